/**
 * The root logger: JSON lines on stdout, one child per service, and a child
 * per request (bound once, see lib/grpc/handler.ts). Secrets are redacted by
 * path so that a careless `log.info({ req })` cannot leak them.
 */
import { pino, type Logger } from 'pino';
import { env } from './config.js';

export type { Logger };

const REDACT = [
  'password', '*.password', 'password_hash', '*.password_hash',
  'token', '*.token', 'access_token', '*.access_token', 'refresh_token', '*.refresh_token',
  'authorization', '*.authorization', 'key', '*.key', 'kek', '*.kek',
];

export function createLogger(service: string, node?: string): Logger {
  return pino({
    level: env('LOG_LEVEL', 'info'),
    base: { service, node },
    redact: { paths: REDACT, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}

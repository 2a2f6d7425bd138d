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

/**
 * The per-request access line's logger: the same output, without redaction.
 * Only for lines whose fields are fixed and known to hold no secret (request
 * id, method, client address, status, duration, TXID, the client-facing error
 * text): redaction's wildcard paths cost ~10 us per line, most of a request
 * line's cost. Anything else, errors included, goes through createLogger's.
 */
export function createAccessLogger(service: string, node?: string): Logger {
  return pino({
    level: env('LOG_LEVEL', 'info'),
    base: { service, node },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}

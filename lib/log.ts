/**
 * The root logger: JSON lines on stdout, one child per service, and a child
 * per request (bound once, see lib/grpc/handler.ts). Secrets are redacted by
 * path so that a careless `log.info({ req })` cannot leak them, and errors are
 * logged without their stack (loggedError).
 */
import { pino, type DestinationStream, type Logger } from 'pino';
import { env } from './config.js';

export type { Logger };

const REDACT = [
  'password', '*.password', 'password_hash', '*.password_hash',
  'token', '*.token', 'access_token', '*.access_token', 'refresh_token', '*.refresh_token',
  'authorization', '*.authorization', 'key', '*.key', 'kek', '*.kek',
];

/** What a logged error keeps: its kind, message and code, and its cause's (no stack). */
export interface LoggedError {
  type: string;
  message: string;
  code?: string | number;
  cause?: LoggedError;
}

/**
 * The `err` field of a log line. pino's own serializer writes the stack; this
 * one keeps what an operator reads first (which error, with what message and
 * code, caused by what) and no stack trace, which the logs must not carry.
 */
export function loggedError(err: unknown, depth = 0): LoggedError | string {
  if (!(err instanceof Error)) return String(err);
  const out: LoggedError = { type: err.name, message: err.message };
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' || typeof code === 'number') out.code = code;
  if (err.cause !== undefined && depth < 3) {
    const cause = loggedError(err.cause, depth + 1);
    out.cause = typeof cause === 'string' ? { type: 'value', message: cause } : cause;
  }
  return out;
}

/** A service's logger: JSON lines on stdout (or on `destination`, for tests). */
export function createLogger(service: string, node?: string, destination?: DestinationStream): Logger {
  const options = {
    level: env('LOG_LEVEL', 'info'),
    base: { service, node },
    redact: { paths: REDACT, censor: '[redacted]' },
    serializers: { err: loggedError },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return destination === undefined ? pino(options) : pino(options, destination);
}

/**
 * The last resort for a service process: an error nothing caught (a failed start-up
 * included) is logged as one fatal JSON line, without its stack, and the process exits 1,
 * so the node's supervisor stops the node (services/node/main.ts).
 */
export function exitOnUncaughtError(service: string, node?: string): void {
  const log = createLogger(service, node);
  process.on('uncaughtException', (err) => {
    log.fatal({ err }, 'stopping: an error nothing caught');
    process.exit(1);
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

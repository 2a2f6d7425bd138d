/**
 * One error type for the whole product, with a closed set of codes that are
 * gRPC status codes (and so, through Envoy, HTTP statuses).
 *
 * Domain and store code throws these; the transport turns any thrown value
 * into a gRPC status exactly once, in `toGrpcStatus`. A `cause` is for the
 * logs only and never reaches a client.
 */
import { status as Status } from '@grpc/grpc-js';

export { Status };

export class AppError extends Error {
  readonly code: Status;
  /** The request field the error is about, when there is one. */
  readonly field?: string;
  /** For RESOURCE_EXHAUSTED: whole seconds until the caller may try again (sent as `retry-after`). */
  readonly retryAfterSeconds?: number;

  constructor(code: Status, message: string, options?: { cause?: unknown; field?: string; retryAfterSeconds?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.field = options?.field;
    this.retryAfterSeconds = options?.retryAfterSeconds;
  }
}

/** Response metadata (an HTTP header through Envoy): seconds until a refused caller may try again. */
export const RETRY_AFTER_HEADER = 'retry-after';

/** 400: the request is malformed. The message names the field. */
export function invalidArgument(field: string, problem: string): AppError {
  return new AppError(Status.INVALID_ARGUMENT, `${field}: ${problem}`, { field });
}

/** 404 */
export function notFound(what: string): AppError {
  return new AppError(Status.NOT_FOUND, `${what} not found`);
}

/** 409 */
export function alreadyExists(message: string): AppError {
  return new AppError(Status.ALREADY_EXISTS, message);
}

/** 409: a concurrent change got there first; the caller may read again and retry. */
export function aborted(message: string): AppError {
  return new AppError(Status.ABORTED, message);
}

/** 400 over HTTP: the request is valid but the system's state refuses it. */
export function failedPrecondition(message: string): AppError {
  return new AppError(Status.FAILED_PRECONDITION, message);
}

/** 403 */
export function permissionDenied(message = 'permission denied'): AppError {
  return new AppError(Status.PERMISSION_DENIED, message);
}

/** 401 */
export function unauthenticated(message = 'authentication required', cause?: unknown): AppError {
  return new AppError(Status.UNAUTHENTICATED, message, { cause });
}

/** 429 over HTTP: the caller is asking too often; the message and `retry-after` say when to try again. */
export function resourceExhausted(message: string, retryAfterSeconds: number): AppError {
  return new AppError(Status.RESOURCE_EXHAUSTED, message, { retryAfterSeconds });
}

/** 503: retryable. */
export function unavailable(message: string, cause?: unknown): AppError {
  return new AppError(Status.UNAVAILABLE, message, { cause });
}

export interface GrpcStatus {
  code: Status;
  details: string;
  /** Seconds until the caller may try again, when the error says. */
  retryAfterSeconds?: number;
}

/** SQLite extended result codes as better-sqlite3 reports them in `err.code`. */
function sqliteCode(err: unknown): string | undefined {
  if (err && typeof err === 'object' && (err as { name?: string }).name === 'SqliteError') {
    return String((err as { code?: string }).code);
  }
  return undefined;
}

/**
 * Maps any thrown value to the status sent to the client. Messages of
 * AppErrors are written for clients; everything else is hidden behind a
 * generic text so that SQL, stack traces and secrets never leave the process.
 */
export function toGrpcStatus(err: unknown): GrpcStatus {
  // An INTERNAL AppError's message is for the operator's log (lib/grpc/handler.ts), not the client.
  if (err instanceof AppError) {
    if (err.code === Status.INTERNAL) return { code: err.code, details: 'internal error' };
    return err.retryAfterSeconds === undefined ? { code: err.code, details: err.message } : { code: err.code, details: err.message, retryAfterSeconds: err.retryAfterSeconds };
  }

  const sqlite = sqliteCode(err);
  if (sqlite !== undefined) {
    // A uniqueness constraint that domain code did not check first: the
    // row exists (a race between two requests for the same thing).
    if (sqlite === 'SQLITE_CONSTRAINT_UNIQUE' || sqlite === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
      return { code: Status.ALREADY_EXISTS, details: 'already exists' };
    }
    // A reference to a row that does not exist.
    if (sqlite === 'SQLITE_CONSTRAINT_FOREIGNKEY') {
      return { code: Status.FAILED_PRECONDITION, details: 'a referenced record does not exist' };
    }
    // Lock contention or a replica's read-only file: retrying can succeed.
    if (sqlite.startsWith('SQLITE_BUSY') || sqlite.startsWith('SQLITE_LOCKED') || sqlite.startsWith('SQLITE_READONLY')) {
      return { code: Status.UNAVAILABLE, details: 'database temporarily unavailable, retry' };
    }
    // "disk I/O error" is how LiteFS refuses a write on a replica in WAL mode.
    if (sqlite.startsWith('SQLITE_IOERR')) {
      return { code: Status.UNAVAILABLE, details: 'database temporarily unavailable, retry' };
    }
  }

  // An error of a grpc-js call we made that nobody translated: keep its code,
  // not its text, which can name addresses and socket errors.
  const code = err && typeof err === 'object' && 'details' in err ? (err as { code?: unknown }).code : undefined;
  if (code === Status.UNAVAILABLE || code === Status.DEADLINE_EXCEEDED) {
    return { code, details: 'a service this one depends on is unavailable, retry' };
  }

  return { code: Status.INTERNAL, details: 'internal error' };
}

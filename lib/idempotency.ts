/**
 * Idempotency keys: a write that may be sent again without being done twice.
 *
 * A client that loses the answer to a write (a timeout, a dropped connection,
 * the UNAVAILABLE a replica gives when its stream to the primary ends) cannot
 * tell whether the write committed. If it sent an `idempotency-key` header,
 * it sends the same request again with the same key: the primary finds the
 * key, in the same transaction as any new work, and answers with the result
 * it stored when the write first committed, without doing it again. The
 * answer then carries `idempotent-replayed: true`.
 *
 * - A key belongs to the caller (the token's user): two users' keys never meet.
 * - The key and the result are stored inside the write's own savepoint, so
 *   they commit together or not at all: a stored key always means the write
 *   is durable, and a write that failed or was refused stored nothing (it
 *   changed nothing, so sending it again is safe, and it may now succeed).
 * - The same key with a different request (another method, or other fields)
 *   is refused with INVALID_ARGUMENT, and nothing runs.
 * - Two requests with the same key at once are ordered by the writer: the
 *   second finds the first's key and replays it.
 * - Keys are kept `KeyRetentionMs`; each new key deletes a few expired ones.
 * - Time-ordered keys (UUIDv7) cost a write least: see `IdempotencyKeysTable`.
 *
 * A service honours keys when its `ServiceSpec` says so and its database has
 * the table (`IdempotencyKeysTable`, in one of its migrations). The wrapper
 * (`lib/grpc/handler.ts`) applies the key to the request's own write, the one
 * a domain makes through `CallContext.requestWrite`.
 */
import type Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { deserialize, serialize } from 'node:v8';
import type * as grpc from '@grpc/grpc-js';
import { invalidArgument } from './errors.js';
import type { WritableDb } from './sqlite.js';
import { defineWrite, writeOpNamed, type WriteFn, type WriteOp } from './writer.js';

/** Request metadata: the client's key for this write. */
export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';
/** Response metadata on an answer given from a stored result: "true". */
export const REPLAYED_HEADER = 'idempotent-replayed';

/** How long a key is remembered: a day, as long as any client keeps retrying. */
export const KeyRetentionMs = 24 * 3600 * 1000;

/** How many expired keys each new key deletes: more than one, so they never pile up. */
const PruneBatch = 4;

/** The longest key: room for a UUID with any prefix a client may add. */
export const MaxKeyLength = 255;

/**
 * The table a service that honours keys adds in a migration.
 *
 * On LiteFS every page a commit changes costs the commit (its FUSE writes,
 * the LTX file, the replicas), so the layout keeps the pages a key changes
 * few. Rows are appended in id order, so a batch's keys share the last page
 * or two, and the oldest are deleted from the first. Only the unique index is
 * searched by key: key first, so time-ordered keys (UUIDv7) are also added at
 * its end, while random ones (UUIDv4) change a page of it each (bench/README.md,
 * "What idempotency keys cost"). The request's digest covers its method.
 */
export const IdempotencyKeysTable = `
  CREATE TABLE idempotency_keys (
    id             INTEGER PRIMARY KEY,
    owner_id       INTEGER NOT NULL,
    key            TEXT NOT NULL CHECK (length(key) BETWEEN 1 AND ${MaxKeyLength}),
    request_sha256 BLOB NOT NULL CHECK (length(request_sha256) = 32),
    result         BLOB NOT NULL,
    created_ms     INTEGER NOT NULL,
    UNIQUE (key, owner_id)
  ) STRICT;
`;

/** A request's key and what identifies the request itself. */
export interface IdempotentRequest {
  key: string;
  /** SHA-256 (hex) of the method and the serialized request: the same digest is the same request. */
  digest: string;
}

/**
 * The key a call carries, or undefined. INVALID_ARGUMENT when it is sent more
 * than once or is not 1–255 visible ASCII characters.
 */
export function idempotencyKeyOf(md: grpc.Metadata): string | undefined {
  const values = md.get(IDEMPOTENCY_KEY_HEADER);
  if (values.length === 0) return undefined;
  if (values.length > 1) throw invalidArgument(IDEMPOTENCY_KEY_HEADER, 'send one key per request');
  const key = String(values[0]);
  if (!/^[\x21-\x7e]+$/.test(key) || key.length > MaxKeyLength) {
    throw invalidArgument(IDEMPOTENCY_KEY_HEADER, `must be 1 to ${MaxKeyLength} visible ASCII characters (a UUID is a good key)`);
  }
  return key;
}

/** What tells two requests apart: the method and the request's bytes as the method serializes them. */
export function requestDigest(method: string, serialized: Buffer): string {
  return createHash('sha256').update(method).update('\0').update(serialized).digest('hex');
}

export interface OnceArgs {
  /** The caller's user id. */
  owner: number;
  request: IdempotentRequest;
  /** The write to run the first time: its name (it may run on the writer thread) and arguments. */
  op: string;
  args: unknown;
  /** Now, in ms since the epoch: passed in, so the operation is a function of its arguments. */
  nowMs: number;
}

export interface OnceResult {
  value: unknown;
  /** The value was stored by an earlier request with this key; nothing ran now. */
  replayed: boolean;
}

interface KeyRow {
  request_sha256: Buffer;
  result: Buffer;
  created_ms: number;
}

interface KeyStatements {
  get: Database.Statement<[string, number], KeyRow>;
  put: Database.Statement<[number, string, Buffer, Buffer, number]>;
  prune: Database.Statement<[number, number]>;
}

const statements = new WeakMap<WritableDb, KeyStatements>();

function statementsFor(db: WritableDb): KeyStatements {
  let s = statements.get(db);
  if (!s) {
    s = {
      get: db.prepare('SELECT request_sha256, result, created_ms FROM idempotency_keys WHERE key = ? AND owner_id = ?'),
      // An expired row of the same key is replaced: deleted, and the new one appended.
      put: db.prepare('INSERT OR REPLACE INTO idempotency_keys (owner_id, key, request_sha256, result, created_ms) VALUES (?, ?, ?, ?, ?)'),
      // The first rows by id are the oldest (ids follow the order of the writes).
      prune: db.prepare('DELETE FROM idempotency_keys WHERE id IN (SELECT id FROM idempotency_keys ORDER BY id LIMIT ?) AND created_ms < ?'),
    };
    statements.set(db, s);
  }
  return s;
}

/**
 * Runs the write `op` once per (owner, key): the first time it runs and its
 * result is stored beside the key; while the key is kept, the same request
 * gets that result back and a different one INVALID_ARGUMENT.
 */
export const runOnce: WriteOp<OnceArgs, OnceResult> = defineWrite('idempotent', (db, a: OnceArgs): OnceResult => {
  const s = statementsFor(db);
  const oldest = a.nowMs - KeyRetentionMs;
  const digest = Buffer.from(a.request.digest, 'hex');
  const row = s.get.get(a.request.key, a.owner);
  if (row && row.created_ms >= oldest) {
    if (!row.request_sha256.equals(digest)) {
      throw invalidArgument(IDEMPOTENCY_KEY_HEADER, 'this key was already used for a different request: send a new key with each new request');
    }
    return { value: deserialize(row.result) as unknown, replayed: true };
  }
  const op = writeOpNamed(a.op);
  if (!op) throw new Error(`write operation ${a.op} is not defined in this thread`);
  const value = op.run(db, a.args);
  s.prune.run(PruneBatch, oldest);
  s.put.run(a.owner, a.request.key, digest, serialize(value), a.nowMs);
  return { value, replayed: false };
});

/**
 * Runs the request's write `op` through `write` once per (owner, key): what
 * the call wrapper does with a request that carries a key (`runOnce`).
 */
export async function writeOnce<A, R>(
  write: WriteFn,
  owner: number,
  request: IdempotentRequest,
  op: WriteOp<A, R>,
  args: A,
  nowMs = Date.now(),
): Promise<{ value: R; replayed: boolean }> {
  const once = await write(runOnce, { owner, request, op: op.name, args, nowMs });
  return { value: once.value as R, replayed: once.replayed };
}

/**
 * The primary's write path.
 *
 * Every write RPC hands a synchronous function to `Writer.run`. Two modes:
 *
 * - `single`: each function runs in its own BEGIN IMMEDIATE … COMMIT.
 * - `batch` (group commit): functions that arrive while the event loop is
 *   busy are gathered into one transaction. Each runs inside its own
 *   SAVEPOINT, so a function that throws rolls back only its own work; every
 *   caller is answered only after the shared COMMIT, so an acknowledged write
 *   is exactly as durable as in `single` mode. A batch closes when the queue
 *   is drained (the next turn of the event loop) or reaches `maxBatch`, so a
 *   lone request waits for nothing but its own commit. With `delayMs`, a
 *   busy primary (its last batch held more than one request) waits that long
 *   for more before committing; an idle one still commits at once.
 *
 * LiteFS makes each COMMIT cost several fsyncs on the FUSE path; batching
 * spreads that cost over every request in the batch.
 */
import type Database from 'better-sqlite3';
import type { WritableDb } from './sqlite.js';
import type { WriteMode } from './config.js';
import { unavailable } from './errors.js';

/** The most requests one group commit takes. */
export const DefaultMaxBatch = 256;

export interface WriteResult<T> {
  value: T;
  /** The LiteFS TXID of the commit that made the write durable (0 off LiteFS). */
  txid: bigint;
}

export interface Writer {
  run<T>(fn: (db: WritableDb) => T): Promise<WriteResult<T>>;
}

export interface WriterOptions {
  mode: WriteMode;
  /** Reads the database's TXID right after a commit. */
  position: () => bigint;
  maxBatch?: number;
  /**
   * Batch mode: while the primary is busy (the last batch held more than one
   * request and ended under BusyWindowMs ago), wait this long for more
   * requests before committing. 0 (the default) commits at the next turn.
   */
  delayMs?: number;
}

/** How recent a multi-request batch must be for the next one to wait `delayMs`. */
export const BusyWindowMs = 20;

interface Job {
  fn: (db: WritableDb) => unknown;
  resolve: (r: WriteResult<unknown>) => void;
  reject: (err: unknown) => void;
}

export function createWriter(db: WritableDb, opts: WriterOptions): Writer {
  return opts.mode === 'single' ? singleWriter(db, opts.position) : batchWriter(db, opts.position, opts.maxBatch ?? DefaultMaxBatch, opts.delayMs ?? 0);
}

function singleWriter(db: WritableDb, position: () => bigint): Writer {
  return {
    run<T>(fn: (db: WritableDb) => T): Promise<WriteResult<T>> {
      try {
        const value = db.transaction(() => fn(db)).immediate();
        return Promise.resolve({ value, txid: position() });
      } catch (err) {
        return Promise.reject(err);
      }
    },
  };
}

/** The transaction-control statements of a group commit, prepared once (exec parses every time). */
interface TxStatements {
  begin: Database.Statement;
  savepoint: Database.Statement;
  release: Database.Statement;
  rollbackTo: Database.Statement;
  commit: Database.Statement;
  rollback: Database.Statement;
}

function batchWriter(db: WritableDb, position: () => bigint, maxBatch: number, delayMs: number): Writer {
  let queue: Job[] = [];
  let scheduled = false;
  /** When the last batch of more than one request ended (ms, monotonic). */
  let lastBusy = -Infinity;
  const tx: TxStatements = {
    begin: db.prepare('BEGIN IMMEDIATE'),
    savepoint: db.prepare('SAVEPOINT request'),
    release: db.prepare('RELEASE request'),
    rollbackTo: db.prepare('ROLLBACK TO request'),
    commit: db.prepare('COMMIT'),
    rollback: db.prepare('ROLLBACK'),
  };

  const flush = () => {
    scheduled = false;
    const batch = queue.slice(0, maxBatch);
    queue = queue.slice(batch.length);
    if (queue.length > 0) schedule();
    commitBatch(db, tx, batch, position);
    if (batch.length > 1) lastBusy = performance.now();
  };
  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    if (delayMs > 0 && queue.length < maxBatch && performance.now() - lastBusy < BusyWindowMs) setTimeout(flush, delayMs);
    else setImmediate(flush);
  };

  return {
    run<T>(fn: (db: WritableDb) => T): Promise<WriteResult<T>> {
      return new Promise<WriteResult<T>>((resolve, reject) => {
        queue.push({ fn, resolve: resolve as Job['resolve'], reject });
        schedule();
      });
    },
  };
}

type Outcome = { ok: true; value: unknown } | { ok: false; err: unknown };

function commitBatch(db: WritableDb, tx: TxStatements, batch: Job[], position: () => bigint): void {
  const outcomes: Outcome[] = [];
  try {
    tx.begin.run();
  } catch (err) {
    for (const job of batch) job.reject(err);
    return;
  }
  for (const job of batch) {
    if (!db.inTransaction) {
      // SQLite rolled the whole transaction back (e.g. disk full): nothing of
      // this batch can commit, so everything fails with the same retryable error.
      outcomes.push({ ok: false, err: unavailable('write aborted, retry') });
      continue;
    }
    tx.savepoint.run();
    try {
      const value = job.fn(db);
      tx.release.run();
      outcomes.push({ ok: true, value });
    } catch (err) {
      if (db.inTransaction) {
        tx.rollbackTo.run();
        tx.release.run();
      }
      outcomes.push({ ok: false, err });
    }
  }
  let txid: bigint;
  try {
    if (db.inTransaction) tx.commit.run();
    txid = position();
  } catch (err) {
    if (db.inTransaction) tx.rollback.run();
    for (const job of batch) job.reject(err);
    return;
  }
  batch.forEach((job, i) => {
    const outcome = outcomes[i]!;
    if (outcome.ok) job.resolve({ value: outcome.value, txid });
    else job.reject(outcome.err);
  });
}

/**
 * The primary's write path.
 *
 * Every write is a named operation (`defineWrite`): a synchronous function of
 * the write connection and plain arguments, defined once at module level. The
 * name lets a writer on another thread run it (`writer-thread.ts`); the
 * writers here run it on the thread that calls `Writer.run`. Two modes:
 *
 * - `single`: each operation runs in its own BEGIN IMMEDIATE … COMMIT.
 * - `batch` (group commit): operations that arrive while the event loop is
 *   busy are gathered into one transaction. Each runs inside its own
 *   SAVEPOINT, so an operation that throws rolls back only its own work; every
 *   caller is answered only after the shared COMMIT, so an acknowledged write
 *   is exactly as durable as in `single` mode. A batch closes at the next turn
 *   of the event loop, or at once when it reaches `maxBatch`, so a lone
 *   request waits for nothing but its own commit.
 *
 *   With `delayMs`, a busy primary (its last batch held more than one request)
 *   holds a batch back until it has as many requests as the largest batch of
 *   the last second, or for `delayMs`, whichever comes first. A closed loop
 *   (clients that send again once answered) refills its batch within a round
 *   trip and never waits for the timer; requests that arrive at a rate, as
 *   students do, share commits instead of paying one each. An idle primary
 *   commits at once.
 *
 * LiteFS makes each COMMIT cost several fsyncs on the FUSE path; batching
 * spreads that cost over every request in the batch.
 */
import type Database from 'better-sqlite3';
import { randomInt } from 'node:crypto';
import type { WritableDb } from './sqlite.js';
import type { WriteMode } from './config.js';
import { unavailable } from './errors.js';
import { opRegistry, type NamedOp } from './op-registry.js';

/** The most requests one group commit takes. */
export const DefaultMaxBatch = 256;

/** The services' `delayMs` (WRITE_BATCH_DELAY_MS): the most a busy primary holds a batch back. */
export const DefaultBatchDelayMs = 10;

export interface WriteResult<T> {
  value: T;
  /** The LiteFS TXID of the commit that made the write durable (0 off LiteFS). */
  txid: bigint;
  /** What the commit that carried the write was like, for the metrics (lib/metrics.ts). */
  commit: CommitStats;
}

/** One commit of a writer, as each write it carried reports it. */
export interface CommitStats {
  /** Which writer (a random number each has), so a restarted writer thread's commits count anew. */
  writer: number;
  /** The writer's commits, counted from 1. */
  seq: number;
  /** The writes it carried, those that failed in their savepoint included. */
  writes: number;
  /** Its transaction's wall time, BEGIN to reading the new TXID. */
  ms: number;
}

/** Numbers a writer's commits (`CommitStats`). */
function commitCounter(): (writes: number, startedMs: number) => CommitStats {
  const writer = randomInt(2 ** 47);
  let seq = 0;
  return (writes, startedMs) => ({ writer, seq: ++seq, writes, ms: performance.now() - startedMs });
}

/** A write operation (`op-registry.ts`): it may run on the writer thread. */
export type WriteOp<A, R> = NamedOp<WritableDb, A, R>;

const writes = opRegistry<WritableDb>('write');

/** Defines (and registers by its unique name) a write operation. Call at module level. */
export const defineWrite = writes.define;

/** The operation defined under `name` in this thread (a writer thread imports the modules that define them). */
export const writeOpNamed = writes.named;

/** Runs `op` with `args` in a write transaction on the primary: what domains are given. */
export type WriteFn = <A, R>(op: WriteOp<A, R>, args: A) => Promise<R>;

export interface Writer {
  run<A, R>(op: WriteOp<A, R>, args: A): Promise<WriteResult<R>>;
  /** Stops taking writes; resolves once the ones already taken are answered. */
  close(): Promise<void>;
}

export interface WriterOptions {
  mode: WriteMode;
  /** Reads the database's TXID right after a commit. */
  position: () => bigint;
  maxBatch?: number;
  /**
   * Batch mode: while the primary is busy (the last batch held more than one
   * request and ended under BusyWindowMs ago), wait at most this long for as
   * many requests as the largest batch of the last PeakWindowMs. 0 (the
   * default here; the services use DefaultBatchDelayMs) commits at the next turn.
   */
  delayMs?: number;
}

/** How recent a multi-request batch must be for the next one to wait `delayMs`. */
export const BusyWindowMs = 20;

/** How long a batch's size counts as the number of requests the next batches wait for. */
export const PeakWindowMs = 1_000;

interface Job {
  op: WriteOp<unknown, unknown>;
  args: unknown;
  resolve: (r: WriteResult<unknown>) => void;
  reject: (err: unknown) => void;
}

export function createWriter(db: WritableDb, opts: WriterOptions): Writer {
  return opts.mode === 'single' ? singleWriter(db, opts.position) : batchWriter(db, opts.position, opts.maxBatch ?? DefaultMaxBatch, opts.delayMs ?? 0);
}

function singleWriter(db: WritableDb, position: () => bigint): Writer {
  const counted = commitCounter();
  return {
    run<A, R>(op: WriteOp<A, R>, args: A): Promise<WriteResult<R>> {
      try {
        const started = performance.now();
        const value = db.transaction(() => op.run(db, args)).immediate();
        const txid = position();
        return Promise.resolve({ value, txid, commit: counted(1, started) });
      } catch (err) {
        return Promise.reject(err);
      }
    },
    close: () => Promise.resolve(),
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
  /** Set while a batch is held back (delayMs), waiting for more requests. */
  let holding: NodeJS.Timeout | undefined;
  /** When the last batch of more than one request ended (ms, monotonic). */
  let lastBusy = -Infinity;
  /** The largest batch of the last PeakWindowMs, and when it (or the window) began. */
  let peak = 0;
  let peakAt = -Infinity;
  const tx: TxStatements = {
    begin: db.prepare('BEGIN IMMEDIATE'),
    savepoint: db.prepare('SAVEPOINT request'),
    release: db.prepare('RELEASE request'),
    rollbackTo: db.prepare('ROLLBACK TO request'),
    commit: db.prepare('COMMIT'),
    rollback: db.prepare('ROLLBACK'),
  };
  const counted = commitCounter();

  const flush = () => {
    scheduled = false;
    if (holding !== undefined) clearTimeout(holding);
    holding = undefined;
    const batch = queue.slice(0, maxBatch);
    queue = queue.slice(batch.length);
    commitBatch(db, tx, batch, position, counted);
    const now = performance.now();
    if (batch.length > 1) lastBusy = now;
    if (batch.length >= peak || now - peakAt > PeakWindowMs) {
      peak = batch.length;
      peakAt = now;
    }
    if (queue.length > 0) schedule();
  };
  /** Whether to hold the queued requests back for more (see the module comment). */
  const hold = () => delayMs > 0 && queue.length < peak && performance.now() - lastBusy < BusyWindowMs;
  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    if (hold()) holding = setTimeout(flush, delayMs);
    else setImmediate(flush);
  };

  return {
    run<A, R>(op: WriteOp<A, R>, args: A): Promise<WriteResult<R>> {
      return new Promise<WriteResult<R>>((resolve, reject) => {
        queue.push({ op: op as WriteOp<unknown, unknown>, args, resolve: resolve as Job['resolve'], reject });
        if (holding !== undefined && queue.length >= peak) {
          // As many as the recent batches held: waiting longer would only add latency.
          clearTimeout(holding);
          holding = undefined;
          scheduled = false;
        }
        schedule();
      });
    },
    close() {
      // A batch held back for more requests commits now; any other is already due at the next turn.
      if (holding !== undefined) flush();
      return Promise.resolve();
    },
  };
}

type Outcome = { ok: true; value: unknown } | { ok: false; err: unknown };

function commitBatch(db: WritableDb, tx: TxStatements, batch: Job[], position: () => bigint, counted: ReturnType<typeof commitCounter>): void {
  const started = performance.now();
  try {
    tx.begin.run();
  } catch (err) {
    for (const job of batch) job.reject(err);
    return;
  }
  const outcomes: Outcome[] = [];
  for (const job of batch) {
    if (!db.inTransaction) break;
    tx.savepoint.run();
    try {
      const value = job.op.run(db, job.args);
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
  if (!db.inTransaction) {
    // SQLite rolled the whole transaction back (it may on SQLITE_FULL or
    // SQLITE_IOERR): nothing of this batch was written. Each request that had
    // failed keeps its own error; every other one gets the same retryable error.
    const aborted = unavailable('write aborted, retry');
    batch.forEach((job, i) => {
      const outcome = outcomes[i];
      job.reject(outcome && !outcome.ok ? outcome.err : aborted);
    });
    return;
  }
  let txid: bigint;
  try {
    tx.commit.run();
    txid = position();
  } catch (err) {
    if (db.inTransaction) tx.rollback.run();
    for (const job of batch) job.reject(err);
    return;
  }
  const commit = counted(batch.length, started);
  batch.forEach((job, i) => {
    const outcome = outcomes[i]!;
    if (outcome.ok) job.resolve({ value: outcome.value, txid, commit });
    else job.reject(outcome.err);
  });
}

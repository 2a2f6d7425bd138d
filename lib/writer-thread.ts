/**
 * The primary's writer on its own thread.
 *
 * A COMMIT on LiteFS goes through FUSE and several fsyncs: 4–9 ms under load,
 * plus about 1 ms to read the new TXID from `-pos`. Run on the event loop, that
 * time blocks every other call of the service (parsing the next requests,
 * answering the last ones, health checks). Here the write connection lives in
 * a worker thread (`writer-worker.ts`) that runs the same writers as
 * `writer.ts`, so the event loop keeps serving while a batch commits, and the
 * writes that arrive meanwhile form the next group commit.
 *
 * Both sides gather per turn of their event loop: the calls of one turn go to
 * the worker as one message, and the answers the worker has in one turn come
 * back as one. An operation travels by name (`defineWrite`) with its
 * arguments; its value comes back by structured clone, an error as
 * `WireError` (so an AppError keeps its code, message and field, and a SQLite
 * error its code, and `toGrpcStatus` maps both as before).
 */
import { Worker } from 'node:worker_threads';
import { AppError, unavailable, type Status } from './errors.js';
import type { Logger } from './log.js';
import { turnOutbox } from './turn-outbox.js';
import type { WriteMode } from './config.js';
import type { WritableDb } from './sqlite.js';
import type { WriteFn, WriteOp, WriteResult, Writer } from './writer.js';

/** How long `close` waits for the writes already taken to be answered. */
export const CloseWaitMs = 5_000;

/** What the worker is started with. */
export interface WriterThreadData {
  /** The database file (in the LiteFS mount). */
  path: string;
  /** Modules to import in the worker: together they define every write operation of the service. */
  opsModules: string[];
  mode: WriteMode;
  maxBatch: number;
  delayMs: number;
}

/** Main thread → worker: the writes of one turn. */
export interface WriteCalls {
  calls: Array<{ id: number; op: string; args: unknown }>;
}

/** Worker → main thread: the answers of one turn. */
export interface WriteAnswers {
  answers: Array<{ id: number; value: unknown; txid: bigint } | { id: number; error: WireError }>;
}

/** A thrown value as it crosses the thread boundary. */
export type WireError =
  | { kind: 'app'; code: Status; message: string; field?: string }
  | { kind: 'sqlite'; code: string; message: string }
  | { kind: 'other'; message: string };

export function toWire(err: unknown): WireError {
  if (err instanceof AppError) return { kind: 'app', code: err.code, message: err.message, field: err.field };
  const e = err as { name?: unknown; code?: unknown; message?: unknown } | null;
  const message = typeof e?.message === 'string' ? e.message : String(err);
  if (e?.name === 'SqliteError' && typeof e.code === 'string') return { kind: 'sqlite', code: e.code, message };
  return { kind: 'other', message };
}

export function fromWire(w: WireError): Error {
  if (w.kind === 'app') return new AppError(w.code, w.message, { field: w.field });
  const err = new Error(w.message);
  if (w.kind === 'sqlite') Object.assign(err, { name: 'SqliteError', code: w.code });
  return err;
}

interface Pending {
  resolve: (r: WriteResult<unknown>) => void;
  reject: (err: unknown) => void;
}

export interface ThreadWriterOptions extends WriterThreadData {
  log: Logger;
  /** Told the TXID of every commit (so the main thread knows its own position). */
  onCommit?: (txid: bigint) => void;
}

export function createThreadWriter(opts: ThreadWriterOptions): Writer {
  const { log, onCommit, ...data } = opts;
  const pending = new Map<number, Pending>();
  let nextId = 1;
  let closing: Promise<void> | undefined;
  let worker: Worker | undefined;

  const start = (): Worker => {
    const w = new Worker(new URL('./writer-worker.js', import.meta.url), { workerData: data satisfies WriterThreadData });
    w.on('message', ({ answers }: WriteAnswers) => {
      for (const a of answers) {
        const p = pending.get(a.id);
        if (!p) continue;
        pending.delete(a.id);
        if ('error' in a) p.reject(fromWire(a.error));
        else {
          onCommit?.(a.txid);
          p.resolve({ value: a.value, txid: a.txid });
        }
      }
    });
    // A worker that dies takes its writes with it: whether the last batch
    // committed is unknown, so its callers get a retryable error, and the
    // next write starts a new worker.
    const lost = (why: string, err?: unknown) => {
      if (worker !== w) return;
      worker = undefined;
      if (pending.size > 0 || !closing) log.error({ err, unanswered: pending.size }, `writer thread ${why}`);
      for (const p of pending.values()) p.reject(unavailable('write interrupted, retry'));
      pending.clear();
    };
    w.on('error', (err) => lost('failed', err));
    w.on('exit', (code) => lost(`exited (code ${code})`));
    return w;
  };

  const send = turnOutbox<WriteCalls['calls'][number]>((calls) => {
    if (!worker) worker = start();
    worker.postMessage({ calls } satisfies WriteCalls);
  });

  return {
    run<A, R>(op: WriteOp<A, R>, args: A): Promise<WriteResult<R>> {
      if (closing) return Promise.reject(unavailable('shutting down, retry'));
      return new Promise<WriteResult<R>>((resolve, reject) => {
        const id = nextId++;
        pending.set(id, { resolve: resolve as Pending['resolve'], reject });
        send({ id, op: op.name, args });
      });
    },
    close() {
      closing ??= (async () => {
        // Let the writes already taken (all pending) be sent and answered, for
        // a bounded time, then stop the thread; any still unanswered fail as retryable.
        const until = performance.now() + CloseWaitMs;
        while (pending.size > 0 && performance.now() < until) await new Promise((r) => setTimeout(r, 5));
        await worker?.terminate();
      })();
      return closing;
    },
  };
}

/**
 * A write function for domain unit tests: runs each operation on `db` in this
 * thread, in its own transaction, with the boundary a writer thread puts
 * around it (arguments and value structured-cloned, errors sent as
 * `WireError`), so an operation that captures what it must not, or returns
 * what cannot cross, fails in the unit tests too.
 */
export function writeAcrossBoundary(db: WritableDb): WriteFn {
  return async <A, R>(op: WriteOp<A, R>, args: A): Promise<R> => {
    const sent = structuredClone(args);
    let value: R;
    try {
      value = db.transaction(() => op.run(db, sent)).immediate();
    } catch (err) {
      throw fromWire(structuredClone(toWire(err)));
    }
    return structuredClone(value);
  };
}

/**
 * Calling named operations on a worker thread: what the writer thread
 * (`writer-thread.ts`) and the reader thread (`reader-thread.ts`) share.
 *
 * An operation travels by its name (`defineWrite`, `defineRead`) with its
 * arguments; its value comes back by structured clone, an error as
 * `WireError` (so an AppError keeps its code, message and field, and a SQLite
 * error its code, and `toGrpcStatus` maps both as it would on the event loop).
 *
 * Both ends gather per turn of their event loop (`turnOutbox`): the calls of
 * one turn go to the worker as one message, and the answers the worker has in
 * one turn come back as one.
 *
 * The worker starts at the first call, so a service that never calls has no
 * thread. A worker that dies takes its calls with it: they fail as retryable
 * (UNAVAILABLE), and the next call starts a new worker.
 */
import { parentPort, Worker } from 'node:worker_threads';
import { AppError, unavailable, type Status } from './errors.js';
import type { Logger } from './log.js';
import { turnOutbox } from './turn-outbox.js';

/** Main thread → worker: the calls of one turn. */
export interface OpCalls {
  calls: Array<{ id: number; op: string; args: unknown }>;
}

export type OpAnswer<V> = { id: number; value: V } | { id: number; error: WireError };

/** Worker → main thread: the answers of one turn. */
export interface OpAnswers<V> {
  answers: Array<OpAnswer<V>>;
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

/**
 * Runs `run` on a structured clone of `args` and returns a clone of its value,
 * an error as it would arrive from a thread: for unit tests, so an operation
 * that captures what it must not, or returns what cannot cross, fails there too.
 */
export async function acrossBoundary<A, R>(run: (args: A) => R, args: A): Promise<R> {
  const sent = structuredClone(args);
  let value: R;
  try {
    value = run(sent);
  } catch (err) {
    throw fromWire(structuredClone(toWire(err)));
  }
  return structuredClone(value);
}

/** How long `close` waits for the calls already taken to be answered. */
export const CloseWaitMs = 5_000;

export interface OpThreadOptions {
  /** The worker's entry module. */
  script: URL;
  workerData: unknown;
  log: Logger;
  /** For the log: "writer thread", "reader thread". */
  name: string;
  /** What a caller is told when the worker dies under its call: "write interrupted, retry". */
  interrupted: string;
}

export interface OpThread<V> {
  call(op: string, args: unknown): Promise<V>;
  /** Stops taking calls; resolves once the ones already taken are answered (for at most CloseWaitMs), and the worker has stopped. */
  close(): Promise<void>;
}

interface Pending<V> {
  resolve: (value: V) => void;
  reject: (err: unknown) => void;
}

export function opThread<V>(opts: OpThreadOptions): OpThread<V> {
  const pending = new Map<number, Pending<V>>();
  let nextId = 1;
  let closing: Promise<void> | undefined;
  let worker: Worker | undefined;

  const start = (): Worker => {
    const w = new Worker(opts.script, { workerData: opts.workerData });
    w.on('message', ({ answers }: OpAnswers<V>) => {
      for (const a of answers) {
        const p = pending.get(a.id);
        if (!p) continue;
        pending.delete(a.id);
        if ('error' in a) p.reject(fromWire(a.error));
        else p.resolve(a.value);
      }
    });
    // What the dead worker had taken may or may not have happened (a write's
    // batch may have committed): its callers get a retryable error.
    const lost = (why: string, err?: unknown) => {
      if (worker !== w) return;
      worker = undefined;
      if (pending.size > 0 || !closing) opts.log.error({ err, unanswered: pending.size }, `${opts.name} ${why}`);
      for (const p of pending.values()) p.reject(unavailable(opts.interrupted));
      pending.clear();
    };
    w.on('error', (err) => lost('failed', err));
    w.on('exit', (code) => lost(`exited (code ${code})`));
    return w;
  };

  const send = turnOutbox<OpCalls['calls'][number]>((calls) => {
    if (!worker) worker = start();
    worker.postMessage({ calls } satisfies OpCalls);
  });

  return {
    call(op, args) {
      if (closing) return Promise.reject(unavailable('shutting down, retry'));
      return new Promise<V>((resolve, reject) => {
        const id = nextId++;
        pending.set(id, { resolve, reject });
        send({ id, op, args });
      });
    },
    close() {
      closing ??= (async () => {
        const until = performance.now() + CloseWaitMs;
        while (pending.size > 0 && performance.now() < until) await new Promise((r) => setTimeout(r, 5));
        await worker?.terminate();
      })();
      return closing;
    },
  };
}

/**
 * The worker's end: hands each message's calls to `handle`, which answers
 * each of them, at once or later, through `answer`; the answers of a turn go
 * back as one message. `unsendable` is the error sent for a value that cannot
 * be cloned (a bug in an operation), so that it does not cost the other
 * answers of its turn.
 */
export function serveOps<V>(
  handle: (calls: OpCalls['calls'], answer: (a: OpAnswer<V>) => void) => void,
  unsendable: string,
): void {
  const port = parentPort;
  if (!port) throw new Error('serveOps runs in a worker thread');
  const answer = turnOutbox<OpAnswer<V>>((answers) => {
    try {
      port.postMessage({ answers } satisfies OpAnswers<V>);
    } catch {
      for (const a of answers) {
        try {
          port.postMessage({ answers: [a] } satisfies OpAnswers<V>);
        } catch {
          port.postMessage({ answers: [{ id: a.id, error: { kind: 'other', message: unsendable } }] } satisfies OpAnswers<V>);
        }
      }
    }
  });
  port.on('message', ({ calls }: OpCalls) => handle(calls, answer));
}

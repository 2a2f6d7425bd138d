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
 * Operations travel by name and come back as `op-thread.ts` describes; a
 * worker that dies fails its writes as retryable, since whether its last
 * batch committed is unknown.
 */
import { acrossBoundary, opThread } from './op-thread.js';
import type { Logger } from './log.js';
import type { WriteMode } from './config.js';
import type { WritableDb } from './sqlite.js';
import type { WriteFn, WriteOp, WriteResult, Writer } from './writer.js';

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

export interface ThreadWriterOptions extends WriterThreadData {
  log: Logger;
  /** Told the TXID of every commit (so the main thread knows its own position). */
  onCommit?: (txid: bigint) => void;
}

export function createThreadWriter(opts: ThreadWriterOptions): Writer {
  const { log, onCommit, ...data } = opts;
  const thread = opThread<WriteResult<unknown>>({
    script: new URL('./writer-worker.js', import.meta.url),
    workerData: data satisfies WriterThreadData,
    log,
    name: 'writer thread',
    interrupted: 'write interrupted, retry',
  });
  return {
    async run<A, R>(op: WriteOp<A, R>, args: A): Promise<WriteResult<R>> {
      const result = await thread.call(op.name, args);
      onCommit?.(result.txid);
      return result as WriteResult<R>;
    },
    close: () => thread.close(),
  };
}

/**
 * A write function for domain unit tests: runs each operation on `db` in this
 * thread, in its own transaction, with the boundary a writer thread puts
 * around it (`acrossBoundary`).
 */
export function writeAcrossBoundary(db: WritableDb): WriteFn {
  return <A, R>(op: WriteOp<A, R>, args: A): Promise<R> => acrossBoundary((sent: A) => db.transaction(() => op.run(db, sent)).immediate(), args);
}

/**
 * A node's reads on a worker thread with a read-only connection of its own
 * (`reader-worker.ts`), so that a read waiting for SQLite's lock through FUSE
 * (on a replica, while LiteFS applies a transaction) waits there, and the
 * event loop keeps answering everything else.
 *
 * The reads of one turn travel as one message (`op-thread.ts`) and the worker
 * runs each message's reads in one read transaction: one snapshot, one WAL
 * read lock, as a replica's shared reads on the event loop do
 * (`shared-reads.ts`).
 *
 * What a read sees: a snapshot begun after the call was made, so it holds
 * every commit this process had learned of by then. LiteFS announces a
 * commit, and the writer thread reports one, only once new read transactions
 * can see it; read-your-writes and `x-min-txid` waits end on those learned
 * TXIDs. A worker that dies fails its reads as retryable, and the next read
 * starts a new one.
 */
import { acrossBoundary, opThread } from './op-thread.js';
import type { Logger } from './log.js';
import { autocommitReads, type ReadScope } from './shared-reads.js';
import type { ReadableDb } from './sqlite.js';
import type { ReadFn, ReadOp, Reader } from './reader.js';

/** What the worker is started with. */
export interface ReaderThreadData {
  /** The database file (in the LiteFS mount). */
  path: string;
  /** Modules to import in the worker: together they define every read operation of the service. */
  opsModules: string[];
}

export function createThreadReader(opts: ReaderThreadData & { log: Logger }): Reader {
  const { log, ...data } = opts;
  const thread = opThread<unknown>({
    script: new URL('./reader-worker.js', import.meta.url),
    workerData: data satisfies ReaderThreadData,
    log,
    name: 'reader thread',
    interrupted: 'read interrupted, retry',
  });
  return {
    run: <A, R>(op: ReadOp<A, R>, args: A) => thread.call(op.name, args) as Promise<R>,
    close: () => thread.close(),
  };
}

/**
 * A read function for domain unit tests: runs each operation on `db` in this
 * thread, after entering `scope`, with the boundary a reader thread puts
 * around it (`acrossBoundary`).
 */
export function readAcrossBoundary(db: ReadableDb, scope: ReadScope = autocommitReads): ReadFn {
  return <A, R>(op: ReadOp<A, R>, args: A): Promise<R> =>
    acrossBoundary((sent: A) => {
      scope.enter();
      return op.run(db, sent);
    }, args);
}

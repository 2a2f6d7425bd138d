/**
 * Reads as named operations, like writes (`writer.ts`): a synchronous
 * function of a read connection and plain arguments, defined once at module
 * level. The name lets a reader thread (`reader-thread.ts`) run it on a
 * connection of its own; `inlineReader` runs it on the event loop.
 *
 * Why a thread: on a LiteFS mount a read takes SQLite's WAL read lock through
 * FUSE, and on a replica it waits, blocking, while LiteFS applies a
 * replicated transaction. On the event loop that wait stops every other call
 * of the process, the catalogue reads the memo answers without SQLite
 * included (docs/DESIGN.md, "Reads off the event loop").
 */
import { opRegistry, type NamedOp } from './op-registry.js';
import type { ReadScope } from './shared-reads.js';
import type { ReadableDb } from './sqlite.js';

/** A read operation (`op-registry.ts`): it may run on a reader thread. */
export type ReadOp<A, R> = NamedOp<ReadableDb, A, R>;

const reads = opRegistry<ReadableDb>('read');

/** Defines (and registers by its unique name) a read operation. Call at module level. */
export const defineRead = reads.define;

/** The read operation defined under `name` in this thread (a reader thread imports the modules that define them). */
export const readOpNamed = reads.named;

/** Runs `op` with `args` on a snapshot at least as new as every commit this process knew of when it was called: what domains are given. */
export type ReadFn = <A, R>(op: ReadOp<A, R>, args: A) => Promise<R>;

export interface Reader {
  run: ReadFn;
  /** Stops taking reads; resolves once the ones already taken are answered. */
  close(): Promise<void>;
}

/** Reads on this thread's connection `db`, each after entering `scope` (a replica's shared snapshot per turn). */
export function inlineReader(db: ReadableDb, scope: ReadScope): Reader {
  return {
    run<A, R>(op: ReadOp<A, R>, args: A): Promise<R> {
      try {
        scope.enter();
        return Promise.resolve(op.run(db, args));
      } catch (err) {
        return Promise.reject(err);
      }
    },
    close: () => Promise.resolve(),
  };
}

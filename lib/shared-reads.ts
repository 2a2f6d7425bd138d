/**
 * Reads on a replica that share one read transaction per turn of the event loop.
 *
 * Why: on a LiteFS mount every read transaction takes and releases SQLite's
 * WAL read lock with fcntl on the `-shm` file, and LiteFS serves those locks
 * itself, so each is a FUSE round trip to the LiteFS process (about 50 µs
 * for the pair on an idle machine, against 2 µs on a plain disk, and far
 * more when LiteFS has to wait for a core). After every replicated commit
 * the first read also refills SQLite's page cache through FUSE. Requests
 * that arrive together (one HTTP/2 read often carries many) can read one
 * snapshot instead, paying that once.
 *
 * What a read sees is unchanged in kind: a consistent snapshot at least as
 * new as anything this process had been told had arrived when it opened.
 * A shared snapshot
 * - ends at the next `setImmediate`, so it never outlives the turn that
 *   opened it by more than one loop phase. This matters for replication:
 *   LiteFS applies a transaction on a replica only while no reader holds a
 *   WAL read lock (it takes them all exclusively), so an open snapshot holds
 *   replication back until it ends;
 * - is replaced as soon as the process learns of a newer TXID (`known`).
 *   Read-your-writes and `x-min-txid` waits are resolved only after the
 *   TXID they wait for is learned, so a read that follows such a wait always
 *   opens a snapshot that has it. Under LiteFS the same follows from its
 *   locking (nothing is applied while a snapshot is open, so every TXID
 *   announced during one was applied before it began); the check keeps the
 *   guarantee from resting on that.
 *
 * Only for a read-only connection: on the primary the read handle is the
 * writer's connection, whose BEGIN IMMEDIATE must never find a transaction
 * open.
 */
import type { ReadableDb } from './sqlite.js';

export interface ReadScope {
  /** Called before reading: the statements that follow in this turn read one snapshot. */
  enter(): void;
}

/** Every statement in its own autocommit read transaction (the primary, unit tests). */
export const autocommitReads: ReadScope = { enter() {} };

export function sharedReads(db: ReadableDb, known: () => bigint): ReadScope {
  if (!db.readonly) throw new Error('sharedReads needs a read-only connection');
  const begin = db.prepare('BEGIN');
  const commit = db.prepare('COMMIT');
  /** What was known when the open snapshot began; undefined when none is open. */
  let openedAt: bigint | undefined;

  const end = () => {
    openedAt = undefined;
    if (db.inTransaction) commit.run();
  };

  return {
    enter() {
      const now = known();
      if (openedAt !== undefined && db.inTransaction && now <= openedAt) return;
      // A replaced snapshot is ended by the setImmediate its predecessor scheduled.
      if (openedAt === undefined) setImmediate(end);
      end();
      openedAt = now;
      begin.run();
    },
  };
}

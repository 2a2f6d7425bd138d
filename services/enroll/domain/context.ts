/**
 * What every operation runs against: stores on the read handle and inside
 * write transactions, and the user directory sync.
 */
import type Database from 'better-sqlite3';
import { ReadMemo, type ReadMemoStats } from '../../../lib/read-memo.js';
import type { ReadFn, ReadOp } from '../../../lib/reader.js';
import type { ReadScope } from '../../../lib/shared-reads.js';
import type { WriteFn, WriteOp } from '../../../lib/writer.js';
import type { EnrollStore } from '../store/store.js';
import { syncUserChangesOnce, syncUsersOnce, type UserDirectory } from './user-sync.js';
import { storeFor } from './operations.js';
import { utcSeconds } from './validate.js';

/** What EnrollDomain is constructed with. */
export interface EnrollDomainDeps {
  /** The read handle (a replica's or the primary's). */
  db: Database.Database;
  /** Entered before every read of `db` (default: each statement on its own). */
  reads?: ReadScope;
  /** Runs a read operation: on the node's reader thread, or on `db` within `reads` (`StartedService.read`). */
  query: ReadFn;
  /** Runs a write operation in a write transaction on the primary. */
  write: WriteFn;
  /**
   * Runs a request's own write, the one its answer comes from: `write`, with
   * the caller's idempotency key applied (`StartedService.requestWrite`;
   * default: `write`). Background writes, such as the user sync, use `write`.
   */
  requestWrite?: WriteFn;
  /** The auth service's users, which this service mirrors. */
  directory: UserDirectory;
  /** Reuse catalogue answers until the data changes (default true; READ_MEMO). */
  memoReads?: boolean;
  /** The TXID of `db` while every commit is learned as LiteFS makes it (`LiteFsNode.followed`), see lib/read-memo.ts. */
  followed?: () => bigint | undefined;
  /** How old a memoised answer may be while a newer one is computed (READ_MEMO_STALE_MS; default 0: never). */
  memoStaleMs?: number;
  /** The lowest TXID an answer to the current caller may have been read at, see lib/read-memo.ts. */
  readFloor?: () => bigint;
  /** The time, in ms since the epoch (default Date.now; tests set their own). */
  now?: () => number;
}

export class DomainContext {
  private inflightSync: Promise<number> | null = null;
  private inflightChangeSync: Promise<number> | null = null;
  /**
   * Every user with an id up to this one is in the local copy, or does not
   * exist at all. The copy is a prefix of the auth service's users in id
   * order: the auth service gives ids in increasing order (AUTOINCREMENT) and
   * never deletes a user, and only `syncUsersOnce` adds to the copy, appending
   * every user newer than the newest local one in one write. So the check
   * before a write compares ids and reads nothing. (On the primary, the first
   * read after each commit refills the read handle's page cache through FUSE:
   * a lookup of each user seen for the first time took 40 % of the primary's
   * event-loop time in a registration rush, bench scenario 08.)
   */
  private usersUpTo = 0;

  private readonly memo: ReadMemo | undefined;

  constructor(private readonly deps: EnrollDomainDeps) {
    this.memo =
      deps.memoReads === false
        ? undefined
        : new ReadMemo(deps.db, { reads: deps.reads, followed: deps.followed, staleMs: deps.memoStaleMs, floor: deps.readFloor });
  }

  /**
   * Runs the read operation `op` (see `enrollRead`) with `args`, on the node's
   * reader thread when it has one. Every read of an RPC goes this way, the
   * memoised catalogue's too (`memoQuery`).
   */
  query<A, R>(op: ReadOp<A, R>, args: A): Promise<R> {
    return this.deps.query(op, args);
  }

  /** The store on the read handle. Use it at once: its snapshot may end at the next turn. */
  read(): EnrollStore {
    this.deps.reads?.enter();
    return storeFor(this.deps.db);
  }

  /**
   * A read whose answer depends only on its arguments and the data (the
   * catalogue, the same for every caller): `query`, with answers reused until
   * the data changes, see lib/read-memo.ts.
   */
  memoQuery<A, R>(op: ReadOp<A, R>, args: A): Promise<R> {
    if (!this.memo) return this.query(op, args);
    return this.memo.get(`${op.name} ${JSON.stringify(args)}`, () => this.query(op, args));
  }

  /** The memo's hits, misses and kept answers given while a newer one was computed; undefined when READ_MEMO is off. */
  memoStats(): ReadMemoStats | undefined {
    return this.memo?.stats();
  }

  /** Now, as the API writes times: RFC 3339 in UTC to the second ("2026-12-05T20:30:00Z"). */
  now(): string {
    return utcSeconds(this.deps.now?.() ?? Date.now());
  }

  /**
   * Runs the request's write `op` (see `enrollWrite`) with `args` in a write
   * transaction on the primary. Each write RPC calls it once, last: its answer
   * is the operation's result, so a request sent again with the same
   * idempotency key is answered from the stored result (lib/idempotency.ts).
   */
  write<A, R>(op: WriteOp<A, R>, args: A): Promise<R> {
    return (this.deps.requestWrite ?? this.deps.write)(op, args);
  }

  /**
   * Pulls users newer than the newest local one. Concurrent callers share one
   * pull, so a burst of requests for a new user costs one directory call.
   */
  syncUsers(): Promise<number> {
    if (!this.inflightSync) {
      this.inflightSync = syncUsersOnce(this.deps.directory, this.read(), this.deps.write).finally(() => {
        this.inflightSync = null;
      });
    }
    return this.inflightSync;
  }

  /**
   * Applies the auth service's changes to users (roles, names) not yet
   * applied here. Concurrent callers share one pull, as for syncUsers.
   */
  syncUserChanges(): Promise<number> {
    if (!this.inflightChangeSync) {
      this.inflightChangeSync = syncUserChangesOnce(this.deps.directory, this.read(), this.deps.write).finally(() => {
        this.inflightChangeSync = null;
      });
    }
    return this.inflightChangeSync;
  }

  /**
   * Before a write that references users: when one may be missing here (our
   * copy lags the auth service), sync once. The write checks authoritatively.
   */
  async ensureUsersKnown(...ids: number[]): Promise<void> {
    const newest = Math.max(...ids);
    if (newest <= this.usersUpTo) return;
    this.usersUpTo = Math.max(this.usersUpTo, this.read().users.maxUserId());
    if (newest > this.usersUpTo) await this.syncUsers();
  }
}

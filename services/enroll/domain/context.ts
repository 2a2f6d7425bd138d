/**
 * What every operation runs against: stores on the read handle and inside
 * write transactions, and the user directory sync.
 */
import type Database from 'better-sqlite3';
import type { ReadScope } from '../../../lib/shared-reads.js';
import { createEnrollStore, type EnrollStore } from '../store/store.js';
import { syncUsersOnce, type UserDirectory } from './user-sync.js';

/** What EnrollDomain is constructed with. */
export interface EnrollDomainDeps {
  /** The read handle (a replica's or the primary's). */
  db: Database.Database;
  /** Entered before every read of `db` (default: each statement on its own). */
  reads?: ReadScope;
  /** Runs `fn` synchronously in a write transaction on the primary. */
  write: <T>(fn: (db: Database.Database) => T) => Promise<T>;
  /** The auth service's users, which this service mirrors. */
  directory: UserDirectory;
}

// Statements belong to a connection, and the read and write handles are
// different connections: one store per Database, prepared on first use.
const stores = new WeakMap<Database.Database, EnrollStore>();

export function storeFor(db: Database.Database): EnrollStore {
  let store = stores.get(db);
  if (!store) {
    store = createEnrollStore(db);
    stores.set(db, store);
  }
  return store;
}

export class DomainContext {
  private inflightSync: Promise<number> | null = null;
  /**
   * Users already seen in the local copy. The copy only ever gains users, so a
   * user found once is known for good, and the pre-check before a write needs
   * no read: on the primary, the first read after each commit refills the
   * read handle's page cache through FUSE, and this check was 9 % of the
   * primary's time under load.
   */
  private readonly knownUsers = new Set<number>();

  constructor(private readonly deps: EnrollDomainDeps) {}

  /** The store on the read handle. Use it at once: its snapshot may end at the next turn. */
  read(): EnrollStore {
    this.deps.reads?.enter();
    return storeFor(this.deps.db);
  }

  /** Runs `fn` in one write transaction. `fn` must not await: it is synchronous. */
  write<T>(fn: (store: EnrollStore) => T): Promise<T> {
    return this.deps.write((db) => fn(storeFor(db)));
  }

  /**
   * Pulls users newer than the newest local one. Concurrent callers share one
   * pull, so a burst of requests for a new user costs one directory call.
   */
  syncUsers(): Promise<number> {
    if (!this.inflightSync) {
      this.inflightSync = syncUsersOnce(this.deps.directory, this.read(), (fn) => this.write(fn)).finally(() => {
        this.inflightSync = null;
      });
    }
    return this.inflightSync;
  }

  /**
   * Before a write that references users: when one is unknown here (our copy
   * lags the auth service), sync once. The write re-checks authoritatively.
   */
  async ensureUsersKnown(...ids: number[]): Promise<void> {
    const unknown = ids.filter((id) => !this.knownUsers.has(id));
    if (unknown.length === 0) return;
    const users = this.read().users;
    if (unknown.some((id) => users.getUser(id) === undefined)) await this.syncUsers();
    for (const id of unknown) if (users.getUser(id) !== undefined) this.knownUsers.add(id);
  }
}

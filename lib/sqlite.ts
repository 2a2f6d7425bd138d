/**
 * Opening SQLite files inside a LiteFS mount.
 *
 * The primary opens read-write, sets WAL and applies migrations; a replica
 * waits until the primary's database (at the expected schema version) has
 * replicated, then opens it read-only. Readable and writable handles have
 * distinct types so code that must run on the primary cannot be handed a
 * replica's handle.
 */
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from './log.js';

export type ReadableDb = Database.Database & { readonly __readable?: true };
export type WritableDb = Database.Database & { readonly __writable: true };

/** How long a statement waits for SQLite's write lock before failing with SQLITE_BUSY. */
export const DefaultBusyTimeoutMs = 5000;
/** How often a replica checks whether the primary's database has arrived. */
export const ReplicaWaitIntervalMs = 250;

export interface OpenedDb {
  name: string;
  path: string;
  read: ReadableDb;
  /** Only on the primary, and only when its writes run on this thread (`writeHere`). */
  write?: WritableDb;
  close(): void;
}

export interface OpenOptions {
  mountDir: string;
  name: string;
  migrations: readonly string[];
  isPrimary: boolean;
  /**
   * The primary only: keep the write connection in this thread (true), or
   * migrate, close it and read through a connection of its own (false: a
   * writer thread opens the write connection).
   */
  writeHere?: boolean;
  log: Logger;
}

/** Applies the migrations the database has not seen yet, in one transaction. */
export function migrate(db: Database.Database, migrations: readonly string[]): number {
  const apply = db.transaction(() => {
    const current = db.pragma('user_version', { simple: true }) as number;
    for (let version = current + 1; version <= migrations.length; version++) {
      db.exec(migrations[version - 1]!);
    }
    if (migrations.length > current) db.pragma(`user_version = ${migrations.length}`);
    return migrations.length - current;
  });
  return apply.immediate();
}

function configure(db: Database.Database): void {
  db.pragma(`busy_timeout = ${DefaultBusyTimeoutMs}`);
  db.pragma('foreign_keys = ON');
}

/** Opens a writable database (primary, or a plain file in unit tests and benchmarks). */
export function openWritable(path: string, migrations: readonly string[]): WritableDb {
  const db = new Database(path);
  configure(db);
  // WAL works on LiteFS and lets readers run while a write is in progress.
  db.pragma('journal_mode = WAL');
  // Every COMMIT is durable before it is acknowledged.
  db.pragma('synchronous = FULL');
  migrate(db, migrations);
  return db as WritableDb;
}

export async function openDatabase(opts: OpenOptions): Promise<OpenedDb> {
  const path = join(opts.mountDir, opts.name);
  if (opts.isPrimary) {
    const write = openWritable(path, opts.migrations);
    if (opts.writeHere !== false) return { name: opts.name, path, read: write, write, close: () => write.close() };
    write.close();
    const read = new Database(path, { readonly: true, fileMustExist: true });
    configure(read);
    return { name: opts.name, path, read, close: () => read.close() };
  }

  // A replica: wait for the file and for the schema version we were built for.
  let logged = false;
  for (;;) {
    if (existsSync(path)) {
      const db = new Database(path, { readonly: true, fileMustExist: true });
      configure(db);
      const version = db.pragma('user_version', { simple: true }) as number;
      if (version >= opts.migrations.length) {
        return { name: opts.name, path, read: db, close: () => db.close() };
      }
      db.close();
    }
    if (!logged) {
      opts.log.info({ db: opts.name }, 'waiting for the primary to create and migrate the database');
      logged = true;
    }
    await sleep(ReplicaWaitIntervalMs);
  }
}

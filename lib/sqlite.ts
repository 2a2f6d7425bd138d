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

/**
 * Statements for queries built from what a request gives (its filters, its
 * search words): each distinct SQL text is prepared once on `db`, on first
 * use, so SQLite plans each shape for itself and the common shape runs the
 * plain query. The texts come from fixed fragments, never from input, so
 * there are few of them.
 */
export function preparedOnFirstUse<Row>(db: Database.Database): (sql: string) => Database.Statement<unknown[], Row> {
  const statements = new Map<string, Database.Statement<unknown[], Row>>();
  return (sql) => {
    let statement = statements.get(sql);
    if (statement === undefined) {
      statement = db.prepare<unknown[], Row>(sql);
      statements.set(sql, statement);
    }
    return statement;
  };
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

/** Opens an existing database read-only (a replica's copy, or a reader beside the primary's writer). */
export function openReadOnly(path: string): ReadableDb {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  configure(db);
  return db;
}

export async function openDatabase(opts: OpenOptions): Promise<OpenedDb> {
  const path = join(opts.mountDir, opts.name);
  if (opts.isPrimary) {
    const write = openWritable(path, opts.migrations);
    if (opts.writeHere !== false) return { name: opts.name, path, read: write, write, close: () => write.close() };
    write.close();
    const read = openReadOnly(path);
    return { name: opts.name, path, read, close: () => read.close() };
  }

  // A replica: wait for the file and for the schema version we were built for.
  let waitingFor: string | undefined;
  for (;;) {
    const opened = openReplicaCopy(path, opts.migrations.length);
    if (typeof opened !== 'string') return { name: opts.name, path, read: opened, close: () => opened.close() };
    if (opened !== waitingFor) {
      opts.log.info({ db: opts.name, reason: opened }, 'waiting for the primary\'s database to reach this replica');
      waitingFor = opened;
    }
    await sleep(ReplicaWaitIntervalMs);
  }
}

/**
 * SQLite errors a replica's copy gives while LiteFS is still writing it (a
 * snapshot arriving from the primary holds its locks, and a half-written
 * header is not yet a database): worth waiting out.
 */
const NOT_YET = /^SQLITE_(BUSY|LOCKED|NOTADB)/;

/**
 * Opens a replica's copy read-only once it exists and has the schema version
 * `version`; otherwise says why not yet ('missing', 'older schema' or the
 * SQLite code). Any other error is thrown.
 */
export function openReplicaCopy(path: string, version: number): ReadableDb | string {
  if (!existsSync(path)) return 'missing';
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
    configure(db);
    if ((db.pragma('user_version', { simple: true }) as number) >= version) return db;
    db.close();
    return 'older schema';
  } catch (err) {
    db?.close();
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && NOT_YET.test(code)) return code;
    throw err;
  }
}

/**
 * Test fixtures for the auth domain (used by the *.test.ts files beside it):
 * a migrated SQLite file in a temp dir with separate read and write
 * connections, a write function like the primary's, and a settable clock.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import type { Database as Db } from 'better-sqlite3';
import { AUTH_MIGRATIONS } from '../store/migrations.js';
import { AuthDomain } from './auth-domain.js';
import type { AuthDomainOptions } from './auth-domain.js';
import type { WritableDb } from '../../../lib/sqlite.js';
import type { WriteFn } from '../../../lib/writer.js';
import { writeAcrossBoundary } from '../../../lib/writer-thread.js';

export const ISSUER = 'course-registration-auth';
export const AUDIENCE = 'course-registration';

export interface TestDb {
  read: Db;
  writer: Db;
  write: WriteFn;
  close(): void;
}

export function openTestDb(): TestDb {
  const dir = mkdtempSync(join(tmpdir(), 'auth-test-'));
  const file = join(dir, 'auth.db');
  const writer = new Database(file);
  writer.pragma('journal_mode = WAL');
  writer.pragma('foreign_keys = ON');
  AUTH_MIGRATIONS.forEach((sql, i) => {
    writer.exec(sql);
    writer.pragma(`user_version = ${i + 1}`);
  });
  const read = new Database(file, { readonly: true, fileMustExist: true });
  const write = writeAcrossBoundary(writer as WritableDb);
  return {
    read,
    writer,
    write,
    close() {
      read.close();
      writer.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export class TestClock {
  #ms: number;
  constructor(start = Date.UTC(2025, 0, 6, 9, 0, 0)) {
    this.#ms = start;
  }
  now = (): Date => new Date(this.#ms);
  advance(seconds: number): void {
    this.#ms += seconds * 1000;
  }
}

export function newDomain(
  t: TestDb,
  clock: TestClock,
  extra: Partial<AuthDomainOptions> = {},
): { domain: AuthDomain; kek: Buffer } {
  const kek = extra.keyEncryptionKey ?? randomBytes(32);
  const domain = new AuthDomain({
    db: t.read,
    write: t.write,
    keyEncryptionKey: kek,
    issuer: ISSUER,
    audience: AUDIENCE,
    clock: clock.now,
    ...extra,
  });
  return { domain, kek };
}

import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { Logger } from './log.js';
import Database from 'better-sqlite3';
import { openDatabase, openReplicaCopy, openWritable, preparedOnFirstUse } from './sqlite.js';

const dir = mkdtempSync(join(tmpdir(), 'sqlite-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const MIGRATIONS = ['CREATE TABLE t (x INTEGER)', 'CREATE INDEX t_x ON t (x)'];

/** A database file migrated to `version` (a copy as the primary leaves it). */
function migrated(name: string, version: number): string {
  const path = join(dir, name);
  openWritable(path, MIGRATIONS.slice(0, version)).close();
  return path;
}

test('a replica copy that is missing, half written or of an older schema is not ready yet', () => {
  assert.equal(openReplicaCopy(join(dir, 'absent.db'), 2), 'missing');
  const garbage = join(dir, 'garbage.db');
  writeFileSync(garbage, Buffer.alloc(4096, 7));
  assert.equal(openReplicaCopy(garbage, 2), 'SQLITE_NOTADB');
  assert.equal(openReplicaCopy(migrated('old.db', 1), 2), 'older schema');
});

test('a replica copy at the schema version opens read-only', () => {
  const db = openReplicaCopy(migrated('ready.db', 2), 2);
  assert.notEqual(typeof db, 'string');
  if (typeof db === 'string') return;
  try {
    assert.equal(db.readonly, true);
    assert.equal(db.pragma('user_version', { simple: true }), 2);
  } finally {
    db.close();
  }
});

test('a replica waits while its copy is not a database yet, then opens it', async () => {
  const mount = mkdtempSync(join(dir, 'mount-'));
  const path = join(mount, 'app.db');
  writeFileSync(path, Buffer.alloc(4096, 7));
  const reasons: unknown[] = [];
  const log = { info: (fields: { reason?: unknown }) => reasons.push(fields.reason) } as unknown as Logger;
  const opening = openDatabase({ mountDir: mount, name: 'app.db', migrations: MIGRATIONS, isPrimary: false, log });
  await new Promise((resolve) => setTimeout(resolve, 400));
  renameSync(migrated('arrived.db', 2), path);
  const db = await opening;
  try {
    assert.deepEqual(reasons, ['SQLITE_NOTADB']);
    assert.equal(db.read.pragma('user_version', { simple: true }), 2);
    assert.equal(db.write, undefined);
  } finally {
    db.close();
  }
});

test('preparedOnFirstUse prepares each SQL text once and gives the same statement after', () => {
  const db = new Database(':memory:');
  db.exec('CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1), (2), (3)');
  const query = preparedOnFirstUse<{ x: number }>(db);
  const all = query('SELECT x FROM t ORDER BY x');
  assert.equal(query('SELECT x FROM t ORDER BY x'), all);
  const filtered = query('SELECT x FROM t WHERE x > @min ORDER BY x');
  assert.notEqual(filtered, all);
  assert.deepEqual(filtered.all({ min: 1 }).map((r) => r.x), [2, 3]);
  assert.deepEqual(all.all().map((r) => r.x), [1, 2, 3]);
  db.close();
});

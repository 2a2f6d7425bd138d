/**
 * Backups against a stand-in for LiteFS's API (export, import, info) over real
 * HTTP, with real SQLite files. The real cluster's path, through
 * `npm run backup` and `npm run restore`, is test/e2e/backup.e2e.test.ts.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import { BackupError, ManifestFile, backupName, checkBackup, createBackup, pruneBackups, restoreBackup, type Manifest } from './backup.js';

const root = mkdtempSync(join(tmpdir(), 'backup-test-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = (what: string) => join(root, `${what}-${n++}`);

/** A WAL-mode database file with one table and `rows` rows, at schema version `version`. */
function makeDb(path: string, rows: number, version: number): void {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE t (v INTEGER)');
  for (let i = 0; i < rows; i++) db.prepare('INSERT INTO t VALUES (?)').run(i);
  db.pragma(`user_version = ${version}`);
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  rmSync(`${path}-wal`, { force: true });
  rmSync(`${path}-shm`, { force: true });
}

interface FakeLiteFs {
  api: string;
  imported: Array<{ name: string; bytes: Buffer }>;
  close(): void;
}

/** Serves `GET /export` from `files` (name → bytes), `POST /import` into `imported`, and `GET /info`. */
async function fakeLiteFs(files: Record<string, Buffer>, isPrimary = true): Promise<FakeLiteFs> {
  const imported: FakeLiteFs['imported'] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const name = url.searchParams.get('name') ?? '';
    if (url.pathname === '/info') return void res.end(JSON.stringify({ isPrimary }));
    if (url.pathname === '/export') {
      const bytes = files[name];
      return void (bytes ? res.end(bytes) : res.writeHead(404).end('database not found\n'));
    }
    if (url.pathname === '/import' && req.method === 'POST') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        imported.push({ name, bytes: Buffer.concat(chunks) });
        res.end();
      });
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return { api: `http://127.0.0.1:${port}`, imported, close: () => server.close() };
}

/** A "cluster": its mount with a.db and b.db at schema versions 3 and 5, and their exports. */
function cluster(): { mount: string; files: Record<string, Buffer> } {
  const mount = fresh('mount');
  mkdirSync(mount);
  makeDb(join(mount, 'a.db'), 10, 3);
  makeDb(join(mount, 'b.db'), 20, 5);
  return { mount, files: { 'a.db': readFileSync(join(mount, 'a.db')), 'b.db': readFileSync(join(mount, 'b.db')) } };
}

test('a backup holds each export, only its owner may read it, and the manifest says what each file is', async () => {
  const { files } = cluster();
  const litefs = await fakeLiteFs(files);
  try {
    const dir = fresh('backup');
    const manifest = await createBackup(litefs.api, dir, ['b.db', 'a.db'], new Date('2026-12-06T12:00:00Z'));
    assert.deepEqual(readdirSync(dir).sort(), ['a.db', 'b.db', ManifestFile], 'nothing else: no -wal or -shm left by the checks');
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    for (const f of ['a.db', 'b.db', ManifestFile]) assert.equal(statSync(join(dir, f)).mode & 0o777, 0o600, f);
    assert.deepEqual(readFileSync(join(dir, 'a.db')), files['a.db']);
    assert.deepEqual(JSON.parse(readFileSync(join(dir, ManifestFile), 'utf8')), manifest);
    assert.deepEqual(manifest.databases.map((d) => [d.name, d.bytes, d.schemaVersion]), [['b.db', files['b.db']!.length, 5], ['a.db', files['a.db']!.length, 3]]);
    assert.equal(manifest.createdAt, '2026-12-06T12:00:00.000Z');
    await assert.rejects(createBackup(litefs.api, dir, ['a.db']), /exists and is not empty/);
  } finally {
    litefs.close();
  }
});

test('a backup fails with what went wrong, and leaves no manifest: a database LiteFS lacks, an export that is no database, no LiteFS', async () => {
  const litefs = await fakeLiteFs({ 'a.db': readFileSync(join(cluster().mount, 'a.db')), 'junk.db': Buffer.from('not a database at all'.repeat(100)) });
  try {
    const missing = fresh('backup');
    await assert.rejects(createBackup(litefs.api, missing, ['a.db', 'c.db']), (err) => err instanceof BackupError && /refused to export c\.db: 404 database not found/.test(err.message));
    assert.equal(existsSync(join(missing, ManifestFile)), false);
    const junk = fresh('backup');
    await assert.rejects(createBackup(litefs.api, junk, ['junk.db']), (err) => err instanceof BackupError && /junk\.db\.partial is not a usable SQLite database/.test(err.message));
    assert.deepEqual(readdirSync(junk), [], 'neither a manifest nor the bad file stays');
  } finally {
    litefs.close();
  }
  await assert.rejects(createBackup(litefs.api, fresh('backup'), ['a.db']), /cannot reach LiteFS at .*: is the cluster running\?/);
});

test('a restore checks the whole backup first, then imports in the order given', async () => {
  const { mount, files } = cluster();
  const litefs = await fakeLiteFs(files);
  try {
    const dir = fresh('backup');
    await createBackup(litefs.api, dir, ['a.db', 'b.db']);
    const checked: string[] = [];
    const plan = { order: ['b.db', 'a.db'], mountDir: mount, check: { 'a.db': (p: string) => void checked.push(p) } };
    const restored = await restoreBackup(litefs.api, dir, plan);
    assert.deepEqual(litefs.imported.map((i) => i.name), ['b.db', 'a.db']);
    assert.deepEqual(litefs.imported[1]!.bytes, files['a.db']);
    assert.deepEqual(checked, [join(dir, 'a.db')], "the plan's own check ran on the backup's file");
    assert.deepEqual(restored.map((r) => r.name), ['b.db', 'a.db']);
    assert.deepEqual(readdirSync(dir).sort(), ['a.db', 'b.db', ManifestFile]);
  } finally {
    litefs.close();
  }
});

test("a restore's prepare step changes a private copy before it is imported, never the backup", async () => {
  const { mount, files } = cluster();
  const litefs = await fakeLiteFs(files);
  try {
    const dir = fresh('backup');
    await createBackup(litefs.api, dir, ['a.db', 'b.db']);
    let copyPath = '';
    const addRow = (copy: string) => {
      copyPath = copy;
      const db = new Database(copy);
      db.prepare('INSERT INTO t VALUES (?)').run(1000);
      db.close();
    };
    await restoreBackup(litefs.api, dir, { order: ['a.db', 'b.db'], mountDir: mount, prepare: { 'a.db': addRow } });
    const imported = fresh('imported.db');
    writeFileSync(imported, litefs.imported[0]!.bytes);
    const db = new Database(imported, { readonly: true });
    assert.equal((db.prepare('SELECT count(*) AS c FROM t').get() as { c: number }).c, 11, 'the imported a.db has the row the prepare step added');
    db.close();
    assert.deepEqual(readFileSync(join(dir, 'a.db')), files['a.db'], "the backup's file is unchanged");
    assert.deepEqual(litefs.imported[1]!.bytes, files['b.db'], 'a database with no prepare step goes in as backed up');
    assert.notEqual(copyPath, '');
    assert.equal(existsSync(copyPath), false, 'the copy is removed afterwards');
  } finally {
    litefs.close();
  }
});

test('a restore refuses, importing nothing: a changed file, a missing manifest, another schema version, a failed check, a replica', async () => {
  const { mount, files } = cluster();
  const litefs = await fakeLiteFs(files);
  const replica = await fakeLiteFs(files, false);
  try {
    const dir = fresh('backup');
    await createBackup(litefs.api, dir, ['a.db', 'b.db']);
    const plan = { order: ['a.db', 'b.db'], mountDir: mount };
    const refused = async (d: string, p: Parameters<typeof restoreBackup>[2], pattern: RegExp, api = litefs.api) => {
      await assert.rejects(restoreBackup(api, d, p), (err) => err instanceof BackupError && pattern.test(err.message));
      assert.deepEqual(litefs.imported, [], 'nothing imported');
    };
    await refused(dir, plan, /not the primary/, replica.api);
    await refused(dir, { ...plan, check: { 'b.db': () => { throw new BackupError('b.db will not do'); } } }, /^b\.db will not do$/);
    // The running a.db has moved on to schema version 4.
    const live = new Database(join(mount, 'a.db'));
    live.pragma('user_version = 4');
    live.close();
    await refused(dir, plan, /a\.db in the backup has schema version 3, the running one 4/);
    rmSync(join(mount, 'a.db'));
    makeDb(join(mount, 'a.db'), 0, 3);
    // One byte changed.
    const bytes = readFileSync(join(dir, 'b.db'));
    bytes[bytes.length - 1] ^= 1;
    writeFileSync(join(dir, 'b.db'), bytes);
    await refused(dir, plan, /b\.db is not the file the backup made/);
    rmSync(join(dir, ManifestFile));
    await refused(dir, plan, /holds no manifest\.json: not a complete backup/);
    assert.throws(() => checkBackup(fresh('nowhere'), plan), /holds no manifest\.json/);
    const manifest: Manifest = { createdAt: '', source: '', databases: [] };
    writeFileSync(join(dir, ManifestFile), JSON.stringify(manifest));
    await refused(dir, plan, /the manifest lists no a\.db/);
  } finally {
    litefs.close();
    replica.close();
  }
});

test('a database of several megabytes streams both ways intact: hashed and checked across chunk boundaries', async () => {
  const mount = fresh('mount');
  mkdirSync(mount);
  const path = join(mount, 'big.db');
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE t (v BLOB)');
  // About 3 MiB of rows that do not compress into a few pages: more than the 1 MiB chunks.
  for (let i = 0; i < 48; i++) db.prepare('INSERT INTO t VALUES (randomblob(65536))').run();
  db.pragma('user_version = 2');
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  rmSync(`${path}-wal`, { force: true });
  rmSync(`${path}-shm`, { force: true });
  const bytes = readFileSync(path);
  assert.ok(bytes.length > 3 << 20, `${bytes.length} bytes`);
  const litefs = await fakeLiteFs({ 'big.db': bytes });
  try {
    const dir = fresh('backup');
    const manifest = await createBackup(litefs.api, dir, ['big.db']);
    assert.equal(manifest.databases[0]!.bytes, bytes.length);
    assert.ok(readFileSync(join(dir, 'big.db')).equals(bytes), 'the backup holds the export byte for byte');
    await restoreBackup(litefs.api, dir, { order: ['big.db'], mountDir: mount });
    assert.equal(litefs.imported.length, 1);
    assert.ok(litefs.imported[0]!.bytes.equals(bytes), 'the import received the file byte for byte');
  } finally {
    litefs.close();
  }
});

test('pruneBackups keeps the newest complete backups and leaves anything else alone', () => {
  const root = fresh('root');
  mkdirSync(root);
  const names = [0, 1, 2, 3].map((i) => backupName(new Date(Date.UTC(2026, 11, 6, 10, 0, i, 5 * i))));
  for (const name of names) {
    mkdirSync(join(root, name));
    writeFileSync(join(root, name, ManifestFile), '{}');
  }
  const unfinished = backupName(new Date(Date.UTC(2025, 0, 1)));
  mkdirSync(join(root, unfinished));
  mkdirSync(join(root, 'by-hand'));
  writeFileSync(join(root, 'by-hand', ManifestFile), '{}');
  writeFileSync(join(root, 'notes.txt'), 'a file');
  assert.deepEqual(pruneBackups(root, 2), names.slice(0, 2).map((n) => join(root, n)));
  assert.deepEqual(readdirSync(root).sort(), [unfinished, ...names.slice(2), 'by-hand', 'notes.txt'].sort());
  assert.deepEqual(pruneBackups(root, 2), [], 'nothing more to delete');
  assert.match(names[0]!, /^2026-12-06T10-00-00-000Z$/);
});

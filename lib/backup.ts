/**
 * Backups of a LiteFS cluster's databases, and restoring one. What the product
 * backs up, in which order, and what else a restore must check, is
 * `scripts/backup.ts` (`npm run backup`, `npm run restore -- DIR`).
 *
 * A backup is a directory (mode 700) holding each database as LiteFS exports
 * it from the primary (`GET /export`: a consistent snapshot of what has
 * committed, mode 600), and `manifest.json` with each file's size, SHA-256 and
 * schema version, written last: a directory with a manifest is complete.
 *
 * Restoring checks everything before it changes anything: each file against
 * the manifest, SQLite's integrity check, its schema version against the
 * running database's (the services migrate only when they start), and the
 * caller's own checks. Only then does it import the databases into the
 * primary in the order given (`POST /import`: one LiteFS transaction each,
 * which the replicas apply like any other). A caller that must change a
 * database before it goes in (`RestorePlan.prepare`) changes a private copy,
 * never the backup.
 *
 * Files stream through in chunks both ways (and are hashed as they pass), so
 * what a backup or a restore holds in memory does not grow with the database.
 */
import { createHash } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  copyFileSync,
  createReadStream,
  createWriteStream,
  existsSync,
  fsyncSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import Database from 'better-sqlite3';
import { LiteFsNode } from './litefs.js';

export const ManifestFile = 'manifest.json';

export interface BackupFile {
  name: string;
  bytes: number;
  sha256: string;
  /** `PRAGMA user_version`: how many migrations the database had. */
  schemaVersion: number;
}

export interface Manifest {
  /** ISO time the backup began. */
  createdAt: string;
  /** The LiteFS API it was exported from. */
  source: string;
  databases: BackupFile[];
}

/** A backup that cannot be made or restored, with what to do about it. */
export class BackupError extends Error {}

/**
 * Runs `fn` on the database file at `path` opened read-only, and removes the
 * `-wal` and `-shm` files SQLite makes beside a WAL-mode file (as LiteFS
 * exports them) when it opens one, unless they were there before: a backup
 * directory holds its databases and manifest alone.
 */
export function readDatabaseFile<T>(path: string, fn: (db: Database.Database) => T): T {
  const sidecars = [`${path}-wal`, `${path}-shm`].filter((p) => !existsSync(p));
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return fn(db);
  } finally {
    db.close();
    for (const p of sidecars) rmSync(p, { force: true });
  }
}

/** SQLite's integrity check and schema version of a database file. */
export function inspectDatabase(path: string): { schemaVersion: number } {
  try {
    return readDatabaseFile(path, (db) => {
      const check = db.pragma('integrity_check', { simple: true });
      if (check !== 'ok') throw new BackupError(`${path} fails SQLite's integrity check: ${String(check)}`);
      return { schemaVersion: Number(db.pragma('user_version', { simple: true })) };
    });
  } catch (err) {
    throw err instanceof BackupError ? err : new BackupError(`${path} is not a usable SQLite database (${(err as Error).message})`);
  }
}

/** A file's SHA-256, read a chunk at a time. */
function sha256(path: string): string {
  const hash = createHash('sha256');
  const chunk = Buffer.alloc(1 << 20);
  const fd = openSync(path, 'r');
  try {
    for (let n = readSync(fd, chunk); n > 0; n = readSync(fd, chunk)) hash.update(chunk.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

/** Streams `body` into a new file only its owner may read, flushes it to disk, and gives its size and SHA-256. */
async function saveDurably(body: WebReadableStream<Uint8Array>, path: string): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256');
  let bytes = 0;
  const counting = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  await pipeline(Readable.fromWeb(body), counting, createWriteStream(path, { mode: 0o600 }));
  flush(path);
  return { bytes, sha256: hash.digest('hex') };
}

/**
 * Exports the databases `names`, in that order, from the LiteFS API `api`
 * into the new directory `dir` (which must not exist, or be empty), checks
 * each file, and writes the manifest last.
 */
export async function createBackup(api: string, dir: string, names: readonly string[], now = new Date()): Promise<Manifest> {
  if (existsSync(dir) && readdirSync(dir).length > 0) throw new BackupError(`${dir} exists and is not empty: choose a new directory`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const databases: BackupFile[] = [];
  for (const name of names) {
    const res = await fetch(`${api}/export?name=${encodeURIComponent(name)}`).catch((err: unknown) => {
      throw new BackupError(`cannot reach LiteFS at ${api} (${(err as Error).message}): is the cluster running?`);
    });
    if (!res.ok || !res.body) throw new BackupError(`LiteFS at ${api} refused to export ${name}: ${res.status} ${(await res.text()).trim()}`);
    const path = join(dir, name);
    let saved: { bytes: number; sha256: string };
    let schemaVersion: number;
    try {
      saved = await saveDurably(res.body as WebReadableStream<Uint8Array>, `${path}.partial`).catch((err: unknown) => {
        throw new BackupError(`the export of ${name} from LiteFS at ${api} broke off (${(err as Error).message})`);
      });
      ({ schemaVersion } = inspectDatabase(`${path}.partial`));
    } catch (err) {
      rmSync(`${path}.partial`, { force: true });
      throw err;
    }
    renameSync(`${path}.partial`, path);
    databases.push({ name, ...saved, schemaVersion });
  }
  const manifest: Manifest = { createdAt: now.toISOString(), source: api, databases };
  writeDurably(join(dir, ManifestFile), Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`));
  return manifest;
}

/** The name of a backup directory made at `at` (its ISO time, made safe for a path), so that names sort by time. */
export function backupName(at: Date): string {
  return at.toISOString().replace(/[:.]/g, '-');
}

const BackupNamePattern = /^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$/;

/**
 * Deletes all but the newest `keep` complete backups in `root`: directories
 * named by `backupName` that hold a manifest. Anything else there (another
 * name, a backup still being written) is left alone. Returns what it deleted.
 */
export function pruneBackups(root: string, keep: number): string[] {
  const complete = readdirSync(root, { withFileTypes: true })
    .filter((e) => e.isDirectory() && BackupNamePattern.test(e.name) && existsSync(join(root, e.name, ManifestFile)))
    .map((e) => e.name)
    .sort();
  const gone = complete.slice(0, Math.max(0, complete.length - keep)).map((name) => join(root, name));
  for (const dir of gone) rmSync(dir, { recursive: true, force: true });
  return gone;
}

/** Writes `bytes` to a new file only its owner may read, and flushes it to disk. */
function writeDurably(path: string, bytes: Buffer): void {
  writeFileSync(path, bytes, { mode: 0o600 });
  flush(path);
}

function flush(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export interface RestorePlan {
  /** The databases to import, in this order. */
  order: readonly string[];
  /** The primary's mount: the running databases, whose schema versions the backup must have. */
  mountDir: string;
  /** More checks of a database file of the backup, by name: each throws BackupError when it cannot be restored. */
  check?: Record<string, (path: string) => void>;
  /** Changes to make, by name, to a copy of a database just before it is imported; each may log what it did. */
  prepare?: Record<string, (copy: string) => void>;
}

/** Reads the backup in `dir` and checks it can be restored here (see the module comment); throws BackupError naming what is wrong. */
export function checkBackup(dir: string, plan: RestorePlan): Manifest {
  const manifestPath = join(dir, ManifestFile);
  if (!existsSync(manifestPath)) throw new BackupError(`${dir} holds no ${ManifestFile}: not a complete backup`);
  let manifest: Manifest;
  try {
    manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as Manifest;
  } catch {
    throw new BackupError(`${manifestPath} is not valid JSON`);
  }
  for (const name of plan.order) {
    const entry = manifest.databases?.find((d) => d.name === name);
    if (!entry) throw new BackupError(`the manifest lists no ${name}`);
    const path = join(dir, name);
    if (!existsSync(path)) throw new BackupError(`${path} is missing`);
    if (statSync(path).size !== entry.bytes || sha256(path) !== entry.sha256) throw new BackupError(`${path} is not the file the backup made (its size or SHA-256 differs from the manifest's)`);
    const { schemaVersion } = inspectDatabase(path);
    const live = inspectSchemaVersion(join(plan.mountDir, name));
    if (schemaVersion !== live) {
      throw new BackupError(`${name} in the backup has schema version ${schemaVersion}, the running one ${live}: restore it with the release that made it`);
    }
    plan.check?.[name]?.(path);
  }
  return manifest;
}

/** The schema version of a running database (on the primary's mount, whose `-wal` and `-shm` LiteFS keeps). */
function inspectSchemaVersion(path: string): number {
  return readDatabaseFile(path, (db) => Number(db.pragma('user_version', { simple: true })));
}

export interface Restored {
  name: string;
  /** The primary's TXID of the database once the import committed. */
  txid: bigint;
}

/**
 * Checks the backup in `dir` (`checkBackup`), then imports its databases into
 * the primary whose LiteFS API is `api`, in the plan's order. What the
 * cluster wrote meanwhile is replaced with the rest.
 */
export async function restoreBackup(api: string, dir: string, plan: RestorePlan): Promise<Restored[]> {
  checkBackup(dir, plan);
  const node = new LiteFsNode(plan.mountDir, api);
  const isPrimary = await node.isPrimary().catch(() => {
    throw new BackupError(`cannot reach LiteFS at ${api}: is the cluster running?`);
  });
  if (!isPrimary) throw new BackupError(`LiteFS at ${api} is not the primary: a backup is restored on the primary`);
  // The copies hold what the backup holds: a directory only this user may read.
  const work = mkdtempSync(join(tmpdir(), 'restore-'));
  try {
    const restored: Restored[] = [];
    for (const name of plan.order) {
      let path = join(dir, name);
      const prepare = plan.prepare?.[name];
      if (prepare) {
        const copy = join(work, name);
        copyFileSync(path, copy);
        chmodSync(copy, 0o600);
        prepare(copy);
        inspectDatabase(copy);
        path = copy;
      }
      // The file streams to LiteFS (chunked), which applies it as one transaction once it is whole.
      const body = Readable.toWeb(createReadStream(path)) as ReadableStream<Uint8Array>;
      const res = await fetch(`${api}/import?name=${encodeURIComponent(name)}`, { method: 'POST', body, duplex: 'half' } as RequestInit);
      if (!res.ok) {
        const done = restored.map((r) => r.name).join(', ') || 'nothing';
        throw new BackupError(`LiteFS refused to import ${name}: ${res.status} ${(await res.text()).trim()} (restored so far: ${done}; run the restore again)`);
      }
      restored.push({ name, txid: node.position(name) });
    }
    return restored;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

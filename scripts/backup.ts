/**
 * `npm run backup [-- DIR]` and `npm run restore -- DIR` (through
 * scripts/backup.sh, which sets the cluster's addresses): back up the
 * cluster's databases from the primary, or restore a backup into it
 * (lib/backup.ts says what each does and checks).
 *
 * `npm run backup -- --every SECONDS [--keep N]` stays running and makes a
 * backup into BACKUP_ROOT every SECONDS, then deletes all but the newest N
 * (24 by default) complete ones there. A backup that fails is reported and
 * removed, and the next one comes on time. SIGINT or SIGTERM stop it between
 * backups, never in the middle of one.
 *
 * - The backup exports enroll.db before auth.db: the enrollment service's
 *   copy of the users then never holds a user auth.db lacks, and it copies
 *   newer ones itself.
 * - The restore imports auth.db before enroll.db, for the same reason. It
 *   first checks that the cluster's key-encryption key opens the backup's
 *   signing keys, and carries the running cluster's signing keys over into
 *   the auth.db it imports, so that the tokens it signs keep passing Envoy
 *   (services/auth/backup.ts).
 *
 * Environment: LITEFS_API and LITEFS_MOUNT (the primary's), BACKUP_ROOT (where
 * a backup without a DIR goes: a new directory named by the time), and the
 * key-encryption key (AUTH_KEY_ENCRYPTION_KEY or _FILE) for a restore.
 */
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { BackupError, backupName, createBackup, pruneBackups, restoreBackup } from '../lib/backup.js';
import { env } from '../lib/config.js';
import { loadKeyEncryptionKey } from '../services/auth/secrets.js';
import { carrySigningKeys, signingKeysOpen } from '../services/auth/backup.js';

const BackupOrder = ['enroll.db', 'auth.db'];
const RestoreOrder = ['auth.db', 'enroll.db'];

const USAGE = 'usage: backup.js create [DIR] | create --every SECONDS [--keep N] | restore DIR';
const DefaultKeep = 24;

async function backUp(api: string, target: string): Promise<void> {
  const manifest = await createBackup(api, target, BackupOrder);
  for (const d of manifest.databases) console.log(`backup: ${d.name}: ${d.bytes} bytes, schema version ${d.schemaVersion}, sha256 ${d.sha256}`);
  console.log(`backup: written to ${target}`);
}

/** A whole number from `min`, given after `flag`. */
function count(flag: string, value: string | undefined, min: number): number {
  const n = Number(value);
  if (value === undefined || !Number.isInteger(n) || n < min) throw new BackupError(`${flag} takes a whole number from ${min}, got ${value ?? 'nothing'}`);
  return n;
}

/** Backs up every `everyS` seconds into `root`, keeping the newest `keep`, until SIGINT or SIGTERM. */
async function backUpEvery(api: string, root: string, everyS: number, keep: number): Promise<void> {
  const stop = new AbortController();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => stop.abort());
  console.log(`backup: every ${everyS} s into ${root}, keeping the newest ${keep}; stop with Ctrl-C`);
  while (!stop.signal.aborted) {
    const started = Date.now();
    const target = join(root, backupName(new Date(started)));
    try {
      await backUp(api, target);
      for (const gone of pruneBackups(root, keep)) console.log(`backup: deleted ${gone}, older than the newest ${keep}`);
    } catch (err) {
      rmSync(target, { recursive: true, force: true });
      console.error(`backup: this backup failed (${(err as Error).message}); the next one is due in ${everyS} s`);
    }
    // Until the next is due, or a signal ends the wait (and the loop).
    await sleep(Math.max(0, started + everyS * 1000 - Date.now()), undefined, { signal: stop.signal }).catch(() => undefined);
  }
  console.log('backup: stopped');
}

async function main(args: string[]): Promise<void> {
  const [command, ...rest] = args;
  const api = env('LITEFS_API');
  if (command === 'create' && rest[0] === '--every') {
    const everyS = count('--every', rest[1], 1);
    if (rest.length !== 2 && !(rest.length === 4 && rest[2] === '--keep')) throw new BackupError(USAGE);
    const keep = rest.length === 4 ? count('--keep', rest[3], 1) : DefaultKeep;
    return backUpEvery(api, env('BACKUP_ROOT'), everyS, keep);
  }
  const [dir, ...more] = rest;
  if (more.length > 0 || dir?.startsWith('--')) throw new BackupError(USAGE);
  if (command === 'create') return backUp(api, dir ?? join(env('BACKUP_ROOT'), backupName(new Date())));
  if (command === 'restore' && dir) {
    const kek = loadKeyEncryptionKey();
    const mountDir = env('LITEFS_MOUNT');
    const restored = await restoreBackup(api, dir, {
      order: RestoreOrder,
      mountDir,
      check: {
        'auth.db': (path) => {
          if (!signingKeysOpen(path, kek)) {
            throw new BackupError("the cluster's key-encryption key cannot open the backup's signing keys: restore with the key that was in use when the backup was made (secrets/kek.hex)");
          }
        },
      },
      prepare: {
        'auth.db': (copy) => {
          const carried = carrySigningKeys(copy, join(mountDir, 'auth.db'));
          console.log(`restore: auth.db keeps the running cluster's signing keys (${carried} not in the backup)`);
        },
      },
    });
    for (const r of restored) console.log(`restore: ${r.name} imported, now at TXID ${r.txid}`);
    console.log(`restore: the cluster holds the data of ${dir}`);
    return;
  }
  throw new BackupError(USAGE);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  // A BackupError says what to do; anything else is reported by its message alone.
  console.error(`${process.argv[2] === 'restore' ? 'restore' : 'backup'}: ${(err as Error).message}`);
  process.exit(err instanceof BackupError ? 1 : 2);
});

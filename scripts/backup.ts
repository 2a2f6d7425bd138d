/**
 * `npm run backup [-- DIR]` and `npm run restore -- DIR` (through
 * scripts/backup.sh, which sets the cluster's addresses): back up the
 * cluster's databases from the primary, or restore a backup into it
 * (lib/backup.ts says what each does and checks).
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
import { BackupError, createBackup, restoreBackup } from '../lib/backup.js';
import { env } from '../lib/config.js';
import { loadKeyEncryptionKey } from '../services/auth/secrets.js';
import { carrySigningKeys, signingKeysOpen } from '../services/auth/backup.js';

const BackupOrder = ['enroll.db', 'auth.db'];
const RestoreOrder = ['auth.db', 'enroll.db'];

const USAGE = 'usage: backup.js create [DIR] | restore DIR';

async function main(args: string[]): Promise<void> {
  const [command, dir, ...rest] = args;
  if (rest.length > 0) throw new BackupError(USAGE);
  const api = env('LITEFS_API');
  if (command === 'create') {
    const target = dir ?? join(env('BACKUP_ROOT'), new Date().toISOString().replace(/[:.]/g, '-'));
    const manifest = await createBackup(api, target, BackupOrder);
    for (const d of manifest.databases) console.log(`backup: ${d.name}: ${d.bytes} bytes, schema version ${d.schemaVersion}, sha256 ${d.sha256}`);
    console.log(`backup: written to ${target}`);
    return;
  }
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

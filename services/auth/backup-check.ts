/**
 * What a restore must know of an auth.db besides its files being sound
 * (scripts/backup.ts): that the cluster's key-encryption key opens the
 * signing keys it holds, or after the restore no token could be signed with
 * them, nor checked against them.
 */
import { readDatabaseFile } from '../../lib/backup.js';
import { loadPrivateKey } from './domain/keys.js';

/** Whether `kek` opens every signing key the auth.db at `path` still publishes at `now` (expired keys are never used again). */
export function signingKeysOpen(path: string, kek: Buffer, now = new Date()): boolean {
  const keys = readDatabaseFile(path, (db) =>
    db.prepare('SELECT key_id, key FROM keys WHERE exp > ?').all(Math.floor(now.getTime() / 1000)) as Array<{ key_id: string; key: Buffer }>,
  );
  return keys.every((k) => {
    try {
      loadPrivateKey(k.key, kek, k.key_id);
      return true;
    } catch {
      return false;
    }
  });
}

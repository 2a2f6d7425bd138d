/**
 * What a restore must do for auth.db besides importing a sound file
 * (scripts/backup.ts):
 *
 * - check that the cluster's key-encryption key opens the signing keys the
 *   backup holds, or after the restore no token could be signed with them,
 *   nor checked against them;
 * - carry the running cluster's signing keys over into the restored copy, and
 *   let only them sign. Envoy and the enrollment service keep the JWKS they
 *   fetched (for JWKS_CACHE_S), and Envoy never fetches it again for an
 *   unknown key id, so a token signed by a key only the backup has would be
 *   refused until their caches expire: after a restore into a new cluster, for
 *   example. The backup's own keys stay published until they expire, so the
 *   tokens they signed still verify, but sign no more. Signing keys are not
 *   the data a backup keeps; accounts, passwords and the audit log come back
 *   as they were.
 */
import Database from 'better-sqlite3';
import { readDatabaseFile } from '../../lib/backup.js';
import { loadPrivateKey } from './domain/keys.js';
import { toSeconds } from './domain/rotation.js';
import { createAuthStore, type AuthStore, type KeyRow } from './store/auth-store.js';

/** The keys the auth.db behind `store` still publishes at `now`, whole (their sealed private keys too), in kid order. */
function publishedKeyRows(store: AuthStore, now: Date): KeyRow[] {
  return store.publishedKeys(toSeconds(now)).map((k) => store.keyByKeyId(k.key_id)!);
}

/** Whether `kek` opens every signing key the auth.db at `path` still publishes at `now` (expired keys are never used again). */
export function signingKeysOpen(path: string, kek: Buffer, now = new Date()): boolean {
  const keys = readDatabaseFile(path, (db) => publishedKeyRows(createAuthStore(db), now));
  return keys.every((k) => {
    try {
      loadPrivateKey(k.key, kek, k.key_id);
      return true;
    } catch {
      return false;
    }
  });
}

/**
 * Adds to the auth.db at `target` (a copy about to be imported) every key of
 * the running auth.db at `live` that is still published at `now` and that
 * `target` lacks, after its own, and ends the signing of every other key at
 * `now` (a key not yet signing never will): the running cluster's current key
 * goes on signing, and its schedule goes on from its newest key. Returns how
 * many keys were added. With no running key published, `target` is left as
 * it is.
 */
export function carrySigningKeys(target: string, live: string, now = new Date()): number {
  const running = readDatabaseFile(live, (db) => publishedKeyRows(createAuthStore(db), now));
  if (running.length === 0) return 0;
  const runningIds = new Set(running.map((k) => k.key_id));
  const at = toSeconds(now);
  const db = new Database(target);
  try {
    const store = createAuthStore(db);
    return db.transaction(() => {
      const added = running.filter((k) => !store.keyByKeyId(k.key_id)).map(({ kid: _kid, ...key }) => store.insertKey(key)).length;
      // The others stop signing now; sign_until stays within [sign_from, exp], as the table's CHECK wants.
      for (const k of store.keyTimes()) {
        if (!runningIds.has(k.key_id)) store.extendKey(k.kid, Math.max(k.sign_from, Math.min(k.sign_until, at)), k.exp);
      }
      return added;
    })();
  } finally {
    db.close();
  }
}

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

const unixSeconds = (at: Date) => Math.floor(at.getTime() / 1000);

/** Whether `kek` opens every signing key the auth.db at `path` still publishes at `now` (expired keys are never used again). */
export function signingKeysOpen(path: string, kek: Buffer, now = new Date()): boolean {
  const keys = readDatabaseFile(path, (db) =>
    db.prepare('SELECT key_id, key FROM keys WHERE exp > ?').all(unixSeconds(now)) as Array<{ key_id: string; key: Buffer }>,
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
  const running = readDatabaseFile(live, (db) =>
    db.prepare('SELECT key, exp, key_id, public_jwk, created_at, sign_from, sign_until FROM keys WHERE exp > ? ORDER BY kid').all(unixSeconds(now)),
  ) as Array<{ key_id: string }>;
  const db = new Database(target);
  try {
    if (running.length === 0) return 0;
    const has = db.prepare('SELECT 1 FROM keys WHERE key_id = ?');
    const insert = db.prepare(
      'INSERT INTO keys (key, exp, key_id, public_jwk, created_at, sign_from, sign_until) VALUES (@key, @exp, @key_id, @public_jwk, @created_at, @sign_from, @sign_until)',
    );
    // Its sign_until stays within [sign_from, exp], as the table's CHECK wants.
    const stopSigning = db.prepare(
      `UPDATE keys SET sign_until = max(sign_from, min(sign_until, ?)) WHERE key_id NOT IN (SELECT value FROM json_each(?))`,
    );
    return db.transaction(() => {
      const added = running.filter((k) => !has.get(k.key_id)).map((k) => insert.run(k)).length;
      stopSigning.run(unixSeconds(now), JSON.stringify(running.map((k) => k.key_id)));
      return added;
    })();
  } finally {
    db.close();
  }
}

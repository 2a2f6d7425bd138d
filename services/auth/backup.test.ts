import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { carrySigningKeys, signingKeysOpen } from './backup.js';
import { createAuthStore } from './store/auth-store.js';
import { planRotation } from './domain/rotation.js';
import { TestClock, newDomain, openTestDb, type TestDb } from './domain/testkit.js';

test("an auth.db's signing keys open with the key-encryption key that sealed them, and with no other", async () => {
  const t = openTestDb();
  try {
    const clock = new TestClock();
    const { domain, kek } = newDomain(t, clock);
    await domain.ensureSigningKeys();
    const path = t.read.name;
    assert.equal(signingKeysOpen(path, kek, clock.now()), true);
    assert.equal(signingKeysOpen(path, randomBytes(32), clock.now()), false);
    // Once every key has expired, none will be used again: any key-encryption key will do.
    clock.advance(30 * 24 * 3600);
    assert.equal(signingKeysOpen(path, randomBytes(32), clock.now()), true);
  } finally {
    t.close();
  }
});

/** Two clusters' auth.db under one key-encryption key, the second made an hour after the first, and a copy of the backup's. */
interface TwoClusters {
  backup: TestDb;
  live: TestDb;
  /** A copy of the backup's auth.db, as a restore imports it. */
  copy: string;
  clock: TestClock;
  kek: Buffer;
  /** Unix seconds, now. */
  at: number;
  close(): void;
}

async function twoClusters(older: 'backup' | 'live'): Promise<TwoClusters> {
  const backup = openTestDb();
  const live = openTestDb();
  const dir = mkdtempSync(join(tmpdir(), 'auth-backup-test-'));
  const clock = new TestClock();
  const kek = randomBytes(32);
  const [first, second] = older === 'backup' ? [backup, live] : [live, backup];
  await newDomain(first, clock, { keyEncryptionKey: kek }).domain.ensureSigningKeys();
  clock.advance(3600);
  await newDomain(second, clock, { keyEncryptionKey: kek }).domain.ensureSigningKeys();
  const copy = join(dir, 'auth.db');
  await backup.writer.backup(copy);
  return {
    backup, live, copy, clock, kek,
    at: Math.floor(clock.now().getTime() / 1000),
    close() {
      backup.close();
      live.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** `fn` with the auth.db at `path` opened read-only, through the service's own store. */
function withStore<T>(path: string, fn: (store: ReturnType<typeof createAuthStore>, db: Database.Database) => T): T {
  const db = new Database(path, { readonly: true });
  try {
    return fn(createAuthStore(db), db);
  } finally {
    db.close();
  }
}

/** The key ids of an auth.db, in kid order. */
function keyIds(path: string): string[] {
  return withStore(path, (_, db) => (db.prepare('SELECT key_id FROM keys ORDER BY kid').all() as Array<{ key_id: string }>).map((r) => r.key_id));
}

test("a restored auth.db keeps the running cluster's signing keys, and its current key goes on signing", async () => {
  // The running cluster made its keys later (a new cluster, or rotations since the backup).
  const c = await twoClusters('backup');
  try {
    const backupKeys = keyIds(c.copy);
    const liveSigning = createAuthStore(c.live.read).signingKey(c.at)!.key_id;
    // The running keys still published (an expired one, which only the expired-token endpoint signs with, stays behind).
    const livePublished = createAuthStore(c.live.read).publishedKeys(c.at).map((k) => k.key_id);
    assert.ok(livePublished.length >= 1 && livePublished.length < keyIds(c.live.read.name).length, JSON.stringify(livePublished));

    assert.equal(carrySigningKeys(c.copy, c.live.read.name, c.clock.now()), livePublished.length);
    assert.deepEqual(keyIds(c.copy), [...backupKeys, ...livePublished], "the backup's keys, then the running ones");
    assert.equal(withStore(c.copy, (store) => store.signingKey(c.at)?.key_id), liveSigning, 'the running key signs');
    assert.equal(carrySigningKeys(c.copy, c.live.read.name, c.clock.now()), 0, 'a key already there is not added twice');
    assert.equal(signingKeysOpen(c.copy, c.kek, c.clock.now()), true);
  } finally {
    c.close();
  }
});

test("a backup whose key began signing after the running one's is kept from signing: the running key signs, the backup's still verifies", async () => {
  // The backup comes from a cluster that made its keys later than the running one.
  const c = await twoClusters('live');
  try {
    const backupSigning = createAuthStore(c.backup.read).signingKey(c.at)!;
    const liveSigning = createAuthStore(c.live.read).signingKey(c.at)!.key_id;
    assert.ok(backupSigning.sign_from > createAuthStore(c.live.read).signingKey(c.at)!.sign_from, 'the backup would win');

    carrySigningKeys(c.copy, c.live.read.name, c.clock.now());
    withStore(c.copy, (store, db) => {
      assert.equal(store.signingKey(c.at)?.key_id, liveSigning, 'the running key signs');
      assert.ok(store.publishedKeys(c.at).some((k) => k.key_id === backupSigning.key_id), "the backup's key is still published, so its tokens verify");
      assert.equal(store.keyByKeyId(backupSigning.key_id)?.sign_until, c.at, "the backup's key stopped signing now");
      // The schedule goes on from the running key: nothing to do now, and its successor takes over at its end.
      const running = store.keyByKeyId(liveSigning)!;
      const nowPlan = planRotation(db, c.clock.now());
      assert.deepEqual([nowPlan.insert, nowPlan.extend], [[], undefined]);
      const later = planRotation(db, new Date((running.sign_until - 15 * 60) * 1000)); // the publish lead before its end
      assert.deepEqual(later.insert.map((k) => k.sign_from), [running.sign_until]);
    });
  } finally {
    c.close();
  }
});

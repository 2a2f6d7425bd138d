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
import { TestClock, newDomain, openTestDb } from './domain/testkit.js';

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

test("a restored auth.db keeps the running cluster's signing keys, and its current key goes on signing", async () => {
  const backup = openTestDb();
  const live = openTestDb();
  const dir = mkdtempSync(join(tmpdir(), 'auth-backup-test-'));
  try {
    const clock = new TestClock();
    const kek = randomBytes(32);
    await newDomain(backup, clock, { keyEncryptionKey: kek }).domain.ensureSigningKeys();
    // The running cluster made its keys later (a new cluster, or rotations since the backup).
    clock.advance(3600);
    await newDomain(live, clock, { keyEncryptionKey: kek }).domain.ensureSigningKeys();
    const copy = join(dir, 'auth.db');
    await backup.writer.backup(copy);
    const backupKeys = keyIds(copy);
    const liveSigning = createAuthStore(live.read).signingKey(Math.floor(clock.now().getTime() / 1000))!.key_id;

    // The running keys still published (an expired one, which only the expired-token endpoint signs with, stays behind).
    const livePublished = createAuthStore(live.read).publishedKeys(Math.floor(clock.now().getTime() / 1000)).map((k) => k.key_id);
    assert.ok(livePublished.length >= 1 && livePublished.length < keyIds(live.read.name).length, JSON.stringify(livePublished));
    const carried = carrySigningKeys(copy, live.read.name, clock.now());
    assert.equal(carried, livePublished.length);
    assert.deepEqual(keyIds(copy), [...backupKeys, ...livePublished], "the backup's keys, then the running ones");
    const restored = new Database(copy, { readonly: true });
    try {
      assert.equal(createAuthStore(restored).signingKey(Math.floor(clock.now().getTime() / 1000))?.key_id, liveSigning, 'the running key signs');
    } finally {
      restored.close();
    }
    assert.equal(carrySigningKeys(copy, live.read.name, clock.now()), 0, 'a key already there is not added twice');
    assert.equal(signingKeysOpen(copy, kek, clock.now()), true);
  } finally {
    backup.close();
    live.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

/** The key ids of an auth.db, in kid order. */
function keyIds(path: string): string[] {
  const db = new Database(path, { readonly: true });
  try {
    return (db.prepare('SELECT key_id FROM keys ORDER BY kid').all() as Array<{ key_id: string }>).map((r) => r.key_id);
  } finally {
    db.close();
  }
}

test("a backup whose key began signing after the running one's is kept from signing: the running key signs, the backup's still verifies", async () => {
  const live = openTestDb();
  const backup = openTestDb();
  const dir = mkdtempSync(join(tmpdir(), 'auth-backup-test-'));
  try {
    const clock = new TestClock();
    const kek = randomBytes(32);
    await newDomain(live, clock, { keyEncryptionKey: kek }).domain.ensureSigningKeys();
    // The backup comes from a cluster that made its keys later than the running one.
    clock.advance(3600);
    await newDomain(backup, clock, { keyEncryptionKey: kek }).domain.ensureSigningKeys();
    const copy = join(dir, 'auth.db');
    await backup.writer.backup(copy);
    const at = Math.floor(clock.now().getTime() / 1000);
    const backupSigning = createAuthStore(backup.read).signingKey(at)!;
    const liveSigning = createAuthStore(live.read).signingKey(at)!.key_id;
    assert.ok(backupSigning.sign_from > createAuthStore(live.read).signingKey(at)!.sign_from, 'the backup would win');

    carrySigningKeys(copy, live.read.name, clock.now());
    const restored = new Database(copy, { readonly: true });
    try {
      const store = createAuthStore(restored);
      assert.equal(store.signingKey(at)?.key_id, liveSigning, 'the running key signs');
      assert.ok(store.publishedKeys(at).some((k) => k.key_id === backupSigning.key_id), "the backup's key is still published, so its tokens verify");
      assert.equal(store.keyByKeyId(backupSigning.key_id)?.sign_until, at, "the backup's key stopped signing now");
      // The schedule goes on from the running key: nothing to do now, and its successor takes over at its end.
      const running = store.keyByKeyId(liveSigning)!;
      const nowPlan = planRotation(restored, clock.now());
      assert.deepEqual([nowPlan.insert, nowPlan.extend], [[], undefined]);
      const later = planRotation(restored, new Date((running.sign_until - 15 * 60) * 1000)); // the publish lead before its end
      assert.deepEqual(later.insert.map((k) => k.sign_from), [running.sign_until]);
    } finally {
      restored.close();
    }
  } finally {
    live.close();
    backup.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

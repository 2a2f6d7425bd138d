import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { signingKeysOpen } from './backup-check.js';
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

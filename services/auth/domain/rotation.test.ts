import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Status } from '../../../lib/errors.js';
import { DEFAULT_ROTATION_POLICY, planFromKeys, rotationPolicy, toSeconds } from './rotation.js';
import type { KeyTimesRow } from '../store/auth-store.js';
import { TestClock, newDomain, openTestDb } from './testkit.js';

const P = DEFAULT_ROTATION_POLICY;

test("default policy: 24h rotation, 15 min lead and token TTL, Envoy's 5 min JWKS cache", () => {
  assert.deepEqual({ ...P }, { rotateEvery: 86400, publishLead: 900, tokenTtl: 900, jwksCache: 300 });
  assert.throws(() => rotationPolicy({ publishLead: 300, jwksCache: 600 }), {
    code: Status.INVALID_ARGUMENT,
    field: 'policy.publishLead',
  });
  assert.throws(() => rotationPolicy({ tokenTtl: 0 }), { code: Status.INVALID_ARGUMENT });
});

test('an empty database gets a key that signs at once and an expired key', () => {
  const plan = planFromKeys([], 1000, P);
  assert.equal(plan.insert.length, 2);
  const [now, expired] = plan.insert;
  assert.deepEqual(now, { created_at: 1000, sign_from: 1000, sign_until: 1000 + 86400, exp: 1000 + 86400 + 900 + 300 });
  assert.ok(expired!.exp < 1000);
  assert.ok(expired!.sign_until <= expired!.sign_from, 'the expired key never signs');
});

test('a late successor is published publishLead ahead and the current key is extended to meet it', () => {
  const current: KeyTimesRow = { kid: 1, key_id: 'a', created_at: 0, sign_from: 0, sign_until: 86400, exp: 87900 };
  const old: KeyTimesRow = { kid: 2, key_id: 'b', created_at: 0, sign_from: -10, sign_until: -10, exp: -1 };
  const t = 86400 - 100; // the periodic caller missed the window
  const plan = planFromKeys([current, old], t, P);
  assert.equal(plan.insert.length, 1);
  assert.equal(plan.insert[0]!.sign_from, t + P.publishLead);
  assert.deepEqual(plan.extend, { kid: 1, sign_until: t + P.publishLead, exp: t + P.publishLead + P.tokenTtl + P.jwksCache });
  // Nothing to do well before the window.
  assert.deepEqual(planFromKeys([current, old], 1000, P), { insert: [], delete: [] });
});

test('rotation schedule over a day and a half with an injected clock', async () => {
  const t = openTestDb();
  try {
    const clock = new TestClock();
    const { domain } = newDomain(t, clock);
    const kids = () => domain.jwks().keys.map((k) => k.kid);

    assert.deepEqual(await domain.ensureSigningKeys(), { created: 2, deleted: 0, extended: false });
    const first = domain.keys.currentSigningKey(clock.now())!;
    const expired = domain.keys.expiredKey(clock.now())!;
    assert.ok(first && expired);
    assert.deepEqual(kids(), [first.keyId], 'the expired key is not published');
    assert.equal(first.signFrom, toSeconds(clock.now()), 'the first key signs at once');
    assert.equal(first.exp, first.signUntil + P.tokenTtl + P.jwksCache);
    // Idempotent.
    assert.deepEqual(await domain.ensureSigningKeys(), { created: 0, deleted: 0, extended: false });

    // Just before the successor window nothing happens.
    clock.advance(first.signUntil - toSeconds(clock.now()) - 2 * P.publishLead - 1);
    assert.equal((await domain.ensureSigningKeys()).created, 0);

    // Within the window: a successor, published now, signing when the first stops.
    clock.advance(P.publishLead);
    assert.equal((await domain.ensureSigningKeys()).created, 1);
    const published = domain.jwks().keys;
    assert.equal(published.length, 2);
    const successorId = published.map((k) => k.kid).find((k) => k !== first.keyId)!;
    const successor = t.read.prepare('SELECT * FROM keys WHERE key_id = ?').get(successorId) as {
      created_at: number;
      sign_from: number;
    };
    assert.ok(successor.sign_from - successor.created_at >= P.publishLead, 'published at least publishLead before signing');
    assert.equal(successor.sign_from, first.signUntil, 'no gap, no overlap');
    assert.equal(domain.keys.currentSigningKey(clock.now())!.keyId, first.keyId);

    // The successor takes over exactly at sign_until.
    clock.advance(first.signUntil - toSeconds(clock.now()) - 1);
    assert.equal(domain.keys.currentSigningKey(clock.now())!.keyId, first.keyId);
    clock.advance(1);
    assert.equal(domain.keys.currentSigningKey(clock.now())!.keyId, successorId);

    // The old key stays published until its exp, then becomes the expired key.
    clock.advance(first.exp - toSeconds(clock.now()) - 1);
    assert.ok(kids().includes(first.keyId));
    clock.advance(1);
    assert.ok(!kids().includes(first.keyId));
    assert.deepEqual(kids(), [successorId]);
    assert.equal(domain.keys.expiredKey(clock.now())!.keyId, first.keyId);
    // The bootstrap expired key is no longer needed.
    assert.deepEqual(await domain.ensureSigningKeys(), { created: 0, deleted: 1, extended: false });
    assert.equal((t.read.prepare('SELECT count(*) AS n FROM keys').get() as { n: number }).n, 2);
    assert.equal(expired.keyId === domain.keys.expiredKey(clock.now())!.keyId, false);
  } finally {
    t.close();
  }
});

test('concurrent ensureSigningKeys calls do not create duplicates', async () => {
  const t = openTestDb();
  try {
    const { domain } = newDomain(t, new TestClock());
    await Promise.all([domain.ensureSigningKeys(), domain.ensureSigningKeys(), domain.ensureSigningKeys()]);
    assert.equal((t.read.prepare('SELECT count(*) AS n FROM keys').get() as { n: number }).n, 2);
  } finally {
    t.close();
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, randomBytes, sign, verify } from 'node:crypto';
import { Status } from '../../../lib/errors.js';
import { generateSigningKey, loadPrivateKey, openPrivateKey, sealPrivateKey } from './keys.js';
import { TestClock, newDomain, openTestDb } from './testkit.js';

const PEM = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n';

test('seal and open round-trip; the blob is iv|tag|ciphertext', () => {
  const kek = randomBytes(32);
  const sealed = sealPrivateKey(PEM, kek, 'kid-1');
  assert.equal(sealed.length, 12 + 16 + Buffer.byteLength(PEM));
  assert.equal(openPrivateKey(sealed, kek, 'kid-1'), PEM);
  // a fresh IV each time
  assert.notDeepEqual(sealPrivateKey(PEM, kek, 'kid-1'), sealed);
});

test('a wrong KEK, a tampered blob or another key id fail with a clear error', () => {
  const kek = randomBytes(32);
  const sealed = sealPrivateKey(PEM, kek, 'kid-1');
  assert.throws(() => openPrivateKey(sealed, randomBytes(32), 'kid-1'), (err: { code: Status; message: string }) => {
    assert.equal(err.code, Status.INTERNAL);
    assert.match(err.message, /wrong key-encryption key/);
    assert.ok(!err.message.includes(kek.toString('hex')));
    return true;
  });
  const tampered = Buffer.from(sealed);
  tampered[tampered.length - 1]! ^= 1;
  assert.throws(() => openPrivateKey(tampered, kek, 'kid-1'), { code: Status.INTERNAL });
  assert.throws(() => openPrivateKey(sealed, kek, 'kid-2'), { code: Status.INTERNAL });
  assert.throws(() => sealPrivateKey(PEM, randomBytes(16), 'kid-1'), { code: Status.INVALID_ARGUMENT });
});

test('generated keys are RSA-2048 and the sealed blob holds no PEM text', async () => {
  const kek = randomBytes(32);
  const g = await generateSigningKey(kek);
  assert.equal(g.privateKey.asymmetricKeyDetails?.modulusLength, 2048);
  assert.match(g.keyId, /^[A-Za-z0-9_-]{22}$/);
  const pem = openPrivateKey(g.sealed, kek, g.keyId);
  assert.match(pem, /^-----BEGIN PRIVATE KEY-----/);
  assert.ok(!g.sealed.includes('PRIVATE KEY'));
  for (const line of pem.split('\n').filter((l) => l.length >= 16 && !l.startsWith('-----'))) {
    assert.ok(!g.sealed.includes(line), 'a PEM line appears in the blob');
  }
  // The sealed private key matches the published public key.
  const data = Buffer.from('hello');
  const signature = sign('sha256', data, loadPrivateKey(g.sealed, kek, g.keyId));
  assert.ok(verify('sha256', data, createPublicKey({ key: { ...g.publicJwk }, format: 'jwk' }), signature));
});

test('keys stored by ensureSigningKeys are encrypted; another KEK cannot sign with them', async () => {
  const t = openTestDb();
  try {
    const clock = new TestClock();
    const { domain } = newDomain(t, clock);
    await domain.ensureSigningKeys();
    const rows = t.read.prepare('SELECT key, key_id FROM keys').all() as { key: Buffer; key_id: string }[];
    assert.equal(rows.length, 2);
    for (const row of rows) {
      assert.ok(!row.key.includes('PRIVATE KEY'));
      assert.ok(!row.key.includes('MII'));
    }
    const { domain: other } = newDomain(t, clock);
    assert.throws(() => other.keys.currentSigningKey(clock.now()), { code: Status.INTERNAL });
    assert.ok(domain.keys.currentSigningKey(clock.now()));
  } finally {
    t.close();
  }
});

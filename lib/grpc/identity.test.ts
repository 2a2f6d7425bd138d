import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { SignJWT } from 'jose';
import { Status, unauthenticated } from '../errors.js';
import { cachingVerifier, remoteVerifier, unknownKeysRetryableWhenBehind, type Identity, type TokenVerifier } from './identity.js';

function token(exp: number): string {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part({ alg: 'RS256' })}.${part({ sub: '7', exp })}.sig`;
}

const who: Identity = { userId: 7, username: 'ada', roles: ['student'] };

test('a verified token is checked once until it expires; failures are never cached', async () => {
  let clock = 1_000_000_000_000;
  let calls = 0;
  let valid = true;
  const inner: TokenVerifier = {
    async verify() {
      calls += 1;
      if (!valid) throw unauthenticated('bad');
      return who;
    },
  };
  const verifier = cachingVerifier(inner, () => clock);
  const t = token(clock / 1000 + 30);
  assert.deepEqual(await verifier.verify(t), who);
  assert.deepEqual(await verifier.verify(t), who);
  assert.equal(calls, 1);

  clock += 31_000; // past exp: verified again (and the inner verifier refuses it)
  valid = false;
  await assert.rejects(verifier.verify(t), /bad/);
  await assert.rejects(verifier.verify(t), /bad/);
  assert.equal(calls, 3);
});

describe('remoteVerifier against a JWKS served over HTTP', () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwks = { keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'RS256', use: 'sig' }] };
  let status = 200;
  const server = createServer((_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(status === 200 ? JSON.stringify(jwks) : '{"message":"no signing keys yet"}');
  });
  let url = '';
  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const sign = (key: KeyObject, kid: string, audience = 'aud') =>
    new SignJWT({ username: 'ada', roles: ['student'] })
      .setProtectedHeader({ alg: 'RS256', kid })
      .setSubject('7')
      .setIssuer('iss')
      .setAudience(audience)
      .setExpirationTime('5m')
      .sign(key);

  test('a good token gives its identity; a forged, unknown-key or wrong-audience one is UNAUTHENTICATED', async () => {
    status = 200;
    const verifier = remoteVerifier(url, 'iss', 'aud', 300);
    assert.deepEqual(await verifier.verify(await sign(privateKey, 'k1')), who);
    for (const bad of [await sign(other.privateKey, 'k1'), await sign(privateKey, 'k9'), await sign(privateKey, 'k1', 'other')]) {
      await assert.rejects(verifier.verify(bad), { code: Status.UNAUTHENTICATED });
    }
  });

  test('a key set that cannot be fetched is UNAVAILABLE, not the token refused, and the next call fetches again', async () => {
    const good = await sign(privateKey, 'k1');
    status = 503;
    const verifier = remoteVerifier(url, 'iss', 'aud', 300);
    await assert.rejects(verifier.verify(good), { code: Status.UNAVAILABLE, message: /cannot fetch the keys/ });
    const nobody = remoteVerifier('http://127.0.0.1:1/.well-known/jwks.json', 'iss', 'aud', 300);
    await assert.rejects(nobody.verify(good), { code: Status.UNAVAILABLE });
    status = 200;
    assert.deepEqual(await verifier.verify(good), who, 'once the JWKS is served again');
  });

  test('on a node that is not current, a token naming a key it lacks is UNAVAILABLE (retry elsewhere); every other refusal, and any refusal on a current node, stays UNAUTHENTICATED', async () => {
    status = 200;
    let current = false;
    const verifier = unknownKeysRetryableWhenBehind(remoteVerifier(url, 'iss', 'aud', 300), () => current);
    const unknownKey = await sign(privateKey, 'k9');
    await assert.rejects(verifier.verify(unknownKey), { code: Status.UNAVAILABLE, message: /behind its primary .* retry on another node/ });
    for (const bad of [await sign(other.privateKey, 'k1'), await sign(privateKey, 'k1', 'other')]) {
      await assert.rejects(verifier.verify(bad), { code: Status.UNAUTHENTICATED }, 'a forged or misdirected token is refused, behind or not');
    }
    assert.deepEqual(await verifier.verify(await sign(privateKey, 'k1')), who, 'a known key still verifies while behind');
    current = true;
    await assert.rejects(verifier.verify(unknownKey), { code: Status.UNAUTHENTICATED }, 'a current node has every key that signs');
  });
});

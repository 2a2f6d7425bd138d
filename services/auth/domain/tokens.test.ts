import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, createPublicKey } from 'node:crypto';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { Status } from '../../../lib/errors.js';
import { unknownKeysRetryableWhenBehind } from '../../../lib/grpc/identity.js';
import type { AuthDomain } from './auth-domain.js';
import { signAccessToken } from './tokens.js';
import { AUDIENCE, ISSUER, TestClock, newDomain, openTestDb } from './testkit.js';
import type { TestDb } from './testkit.js';

let t: TestDb;
let clock: TestClock;
let domain: AuthDomain;
let userId: number;
const PASSWORD = 'tokens-test-password';

before(async () => {
  t = openTestDb();
  clock = new TestClock();
  ({ domain } = newDomain(t, clock));
  await domain.ensureSigningKeys();
  ({ user_id: userId } = await domain.register({ username: 'tina', email: 'tina@example.edu', password: PASSWORD }));
});
after(() => t.close());

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

async function rejects(token: string, message?: RegExp) {
  await assert.rejects(domain.verifyAccessToken(token), (err: { code: Status; message: string }) => {
    assert.equal(err.code, Status.UNAUTHENTICATED);
    if (message) assert.match(err.message, message);
    return true;
  });
}

test('an access token has the agreed header and claims and verifies with the JWKS', async () => {
  const res = await domain.login({ username: 'tina', password: PASSWORD }, { ip: '10.0.0.1', method: 'login' });
  assert.equal(res.token, res.access_token);
  assert.equal(res.token_type, 'Bearer');
  assert.equal(res.expires_in, 900);
  const header = decodeProtectedHeader(res.access_token);
  assert.deepEqual(header, { alg: 'RS256', kid: domain.keys.currentSigningKey(clock.now())!.keyId, typ: 'JWT' });
  const claims = decodeJwt(res.access_token);
  const now = Math.floor(clock.now().getTime() / 1000);
  assert.equal(claims.sub, String(userId));
  assert.equal(claims.username, 'tina');
  assert.deepEqual(claims.roles, ['student']);
  assert.equal(claims.iss, ISSUER);
  assert.equal(claims.aud, AUDIENCE);
  assert.equal(claims.iat, now);
  assert.equal(claims.exp, now + 900);
  assert.match(String(claims.jti), /^[0-9a-f-]{36}$/);

  assert.deepEqual(await domain.verifyAccessToken(res.access_token), { userId, username: 'tina', roles: ['student'] });
  // What Envoy does: verify against the published JWKS document.
  const jwks = createLocalJWKSet(JSON.parse(JSON.stringify(domain.jwks())));
  const { payload } = await jwtVerify(res.access_token, jwks, { issuer: ISSUER, audience: AUDIENCE, currentDate: clock.now() });
  assert.equal(payload.sub, String(userId));
});

test('two tokens signed for the same caller at the same instant differ only by their jti, and both verify', async () => {
  const key = domain.keys.currentSigningKey(clock.now())!;
  const now = Math.floor(clock.now().getTime() / 1000);
  const who = { userId, username: 'tina', roles: ['student'] };
  const settings = { issuer: ISSUER, audience: AUDIENCE };
  const [a, b] = [signAccessToken(key, who, { iat: now, exp: now + 60 }, settings), signAccessToken(key, who, { iat: now, exp: now + 60 }, settings)];
  assert.notEqual(a, b);
  const { jti: jtiA, ...restA } = decodeJwt(a);
  const { jti: jtiB, ...restB } = decodeJwt(b);
  assert.notEqual(jtiA, jtiB);
  assert.deepEqual(restA, restB);
  for (const token of [a, b]) assert.deepEqual(await domain.verifyAccessToken(token), who);
});

test("a key this auth.db lacks (made on the primary while this replica was cut off) is UNAVAILABLE while the node is behind, UNAUTHENTICATED once it is current", async () => {
  // Another database's signing key stands for a key the primary made after the cut.
  const elsewhere = openTestDb();
  try {
    const { domain: primary } = newDomain(elsewhere, clock);
    await primary.ensureSigningKeys();
    const newKey = primary.keys.currentSigningKey(clock.now())!;
    assert.equal(domain.keys.publicKey(newKey.keyId, clock.now()), undefined, 'this database does not have that key');
    const now = Math.floor(clock.now().getTime() / 1000);
    const who = { userId, username: 'tina', roles: ['student'] };
    const fromNewKey = signAccessToken(newKey, who, { iat: now, exp: now + 60 }, { issuer: ISSUER, audience: AUDIENCE });

    let current = false;
    const verifier = unknownKeysRetryableWhenBehind({ verify: (token) => domain.verifyAccessToken(token) }, () => current);
    await assert.rejects(verifier.verify(fromNewKey), { code: Status.UNAVAILABLE, message: /behind its primary/ });
    const ownKey = domain.keys.currentSigningKey(clock.now())!;
    const [h, p] = signAccessToken(ownKey, who, { iat: now, exp: now + 60 }, { issuer: ISSUER, audience: AUDIENCE }).split('.');
    await assert.rejects(verifier.verify(`${h}.${p}.AAAA`), { code: Status.UNAUTHENTICATED }, 'a bad signature from a key it has is refused, behind or not');
    current = true;
    await assert.rejects(verifier.verify(fromNewKey), { code: Status.UNAUTHENTICATED });
  } finally {
    elsewhere.close();
  }
});

test('tampered, expired, wrong issuer/audience, alg none and HS256 tokens are rejected', async () => {
  const res = await domain.login({ username: 'tina', password: PASSWORD }, { ip: '10.0.0.1', method: 'login' });
  const [h, p, s] = res.access_token.split('.') as [string, string, string];
  const claims = decodeJwt(res.access_token);

  await rejects(`${h}.${b64({ ...claims, roles: ['registrar'] })}.${s}`);
  await rejects(`${h}.${p}.${s.slice(0, -4)}AAAA`);
  await rejects('not-a-jwt');

  const key = domain.keys.currentSigningKey(clock.now())!;
  const times = { iat: Number(claims.iat), exp: Number(claims.exp) };
  const who = { userId, username: 'tina', roles: ['student'] };
  await rejects(signAccessToken(key, who, times, { issuer: 'someone-else', audience: AUDIENCE }));
  await rejects(signAccessToken(key, who, times, { issuer: ISSUER, audience: 'other-audience' }));
  // A control: the same helper with the right settings passes.
  assert.equal((await domain.verifyAccessToken(signAccessToken(key, who, times, { issuer: ISSUER, audience: AUDIENCE }))).userId, userId);

  await rejects(`${b64({ alg: 'none', kid: key.keyId, typ: 'JWT' })}.${p}.`);
  await rejects(`${b64({ alg: 'none', typ: 'JWT' })}.${p}.`);

  // HS256 keyed with the public key (the classic algorithm-confusion attack).
  const jwk = domain.jwks().keys.find((k) => k.kid === key.keyId)!;
  const publicPem = createPublicKey({ key: { kty: 'RSA', n: jwk.n, e: jwk.e }, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
  for (const secret of [publicPem, JSON.stringify(jwk)]) {
    const hs = `${b64({ alg: 'HS256', kid: key.keyId, typ: 'JWT' })}.${p}`;
    await rejects(`${hs}.${createHmac('sha256', secret).update(hs).digest('base64url')}`);
  }

  // Unknown kid.
  await rejects(`${b64({ alg: 'RS256', kid: 'nope', typ: 'JWT' })}.${p}.${s}`);

  // Expired: one second past exp.
  clock.advance(900);
  await rejects(res.access_token, /expired/);
  clock.advance(-900);
  assert.equal((await domain.verifyAccessToken(res.access_token)).userId, userId);
});

test('expired=true: signed by the expired key, exp in the past, kid not in the JWKS', async () => {
  const res = await domain.login({ username: 'tina', password: PASSWORD }, { ip: '10.0.0.1', method: 'auth', expired: true });
  const now = Math.floor(clock.now().getTime() / 1000);
  const claims = decodeJwt(res.token);
  assert.ok(claims.exp! < now && claims.iat! < claims.exp!);
  assert.ok(res.expires_in < 0);
  assert.equal(res.refresh_token, '');
  const { kid } = decodeProtectedHeader(res.token);
  const expiredKey = domain.keys.expiredKey(clock.now())!;
  assert.equal(kid, expiredKey.keyId);
  assert.ok(!domain.jwks().keys.some((k) => k.kid === kid));
  await rejects(res.token);
  // It is a real signature by that key, only expired.
  const row = t.read.prepare('SELECT public_jwk FROM keys WHERE key_id = ?').get(kid) as { public_jwk: string };
  const pub = createPublicKey({ key: JSON.parse(row.public_jwk), format: 'jwk' });
  const { payload } = await jwtVerify(res.token, pub, { currentDate: new Date((claims.exp! - 1) * 1000) });
  assert.equal(payload.username, 'tina');
});

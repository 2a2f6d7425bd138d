import assert from 'node:assert/strict';
import { test } from 'node:test';
import { unauthenticated } from '../errors.js';
import { cachingVerifier, type Identity, type TokenVerifier } from './identity.js';

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

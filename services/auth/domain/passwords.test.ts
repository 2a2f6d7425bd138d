import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ARGON2_PARAMS, DUMMY_HASH, argon2Params, generatePassword, hashPassword, verifyPassword } from './passwords.js';

test('parameters meet the OWASP argon2id minimum', () => {
  assert.ok(ARGON2_PARAMS.memoryCost >= 19456);
  assert.ok(ARGON2_PARAMS.timeCost >= 2);
  assert.equal(ARGON2_PARAMS.parallelism, 1);
});

test('hashes are argon2id v19 with m=19456, t=2, p=1 and verify', async () => {
  const hash = await hashPassword('correct horse battery');
  assert.match(hash, /^\$argon2id\$v=19\$/);
  assert.deepEqual(argon2Params(hash), { algorithm: 'argon2id', version: 19, m: 19456, t: 2, p: 1 });
  assert.equal(await verifyPassword(hash, 'correct horse battery'), true);
  assert.equal(await verifyPassword(hash, 'correct horse batterY'), false);
  assert.equal(await verifyPassword('not a hash', 'x'), false);
});

test('the dummy hash costs what a real hash costs', () => {
  const real = { algorithm: 'argon2id', version: 19, m: ARGON2_PARAMS.memoryCost, t: ARGON2_PARAMS.timeCost, p: ARGON2_PARAMS.parallelism };
  assert.deepEqual(argon2Params(DUMMY_HASH), real);
});

test('generated passwords are UUIDv4 and differ', () => {
  const a = generatePassword();
  assert.match(a, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.notEqual(a, generatePassword());
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isolateEnv } from '../../test/support/env.js';
import { DEFAULT_ROTATION_POLICY } from './domain/index.js';
import { KeyPolicyEnv, keyCheckIntervalMs, keyPolicyFromEnv } from './key-settings.js';

isolateEnv(Object.values(KeyPolicyEnv));

test('unset, the schedule is the default one: keys sign a day, are published 15 min ahead, the JWKS is kept 5 min', () => {
  assert.deepEqual(keyPolicyFromEnv(), DEFAULT_ROTATION_POLICY);
  assert.equal(DEFAULT_ROTATION_POLICY.jwksCache, 300, "deploy/envoy/envoy.yaml's cache_duration");
});

test('each variable sets its field', () => {
  Object.assign(process.env, { AUTH_KEY_ROTATE_S: '8', AUTH_KEY_PUBLISH_LEAD_S: '3', ACCESS_TOKEN_TTL_S: '6', JWKS_CACHE_S: '1' });
  assert.deepEqual({ ...keyPolicyFromEnv() }, { rotateEvery: 8, publishLead: 3, tokenTtl: 6, jwksCache: 1 });
});

test('a schedule that breaks the rules between the durations names the variables, not the fields', () => {
  process.env.JWKS_CACHE_S = '1200'; // more than the default 900 s publish lead
  assert.throws(() => keyPolicyFromEnv(), (err: Error) => {
    assert.match(err.message, /AUTH_KEY_PUBLISH_LEAD_S: must be at least JWKS_CACHE_S/);
    assert.match(err.message, /JWKS_CACHE_S=1200/);
    assert.doesNotMatch(err.message, /policy\./);
    return true;
  });
  delete process.env.JWKS_CACHE_S;
  process.env.AUTH_KEY_ROTATE_S = '1800'; // not more than twice the lead
  assert.throws(() => keyPolicyFromEnv(), /AUTH_KEY_ROTATE_S: must be more than twice AUTH_KEY_PUBLISH_LEAD_S/);
});

test('a value that is not a whole number of seconds is refused with its name', () => {
  for (const bad of ['0', '-1', '1.5', 'daily']) {
    process.env.AUTH_KEY_ROTATE_S = bad;
    assert.throws(() => keyPolicyFromEnv(), /AUTH_KEY_ROTATE_S must be a whole number of seconds/);
  }
});

test('the primary checks the schedule twice per publish lead, at least once a minute', () => {
  assert.equal(keyCheckIntervalMs(DEFAULT_ROTATION_POLICY), 60_000);
  assert.equal(keyCheckIntervalMs({ ...DEFAULT_ROTATION_POLICY, publishLead: 3 }), 1_500);
});

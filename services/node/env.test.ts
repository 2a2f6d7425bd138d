import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AUTH_ONLY_ENV, authThreadPoolSize, serviceEnv, threadPoolSize } from './env.js';

test('the auth service gets one pool thread per core, at least two', () => {
  assert.equal(authThreadPoolSize(1), 2);
  assert.equal(authThreadPoolSize(2), 2);
  assert.equal(authThreadPoolSize(8), 8);
  assert.equal(serviceEnv('auth', { A: '1' }, 6).UV_THREADPOOL_SIZE, '6');
  assert.equal(serviceEnv('auth', { A: '1' }, 6).A, '1', 'the rest of the environment is kept');
});

test('UV_THREADPOOL_SIZE set by the operator wins, and the enrollment service keeps libuv\'s default', () => {
  assert.equal(serviceEnv('auth', { UV_THREADPOOL_SIZE: '4' }, 2).UV_THREADPOOL_SIZE, '4');
  assert.equal(serviceEnv('enroll', {}, 2).UV_THREADPOOL_SIZE, undefined);
});

test('a pool size is stated as set, or as libuv\'s default', () => {
  assert.equal(threadPoolSize({ UV_THREADPOOL_SIZE: '2' }), '2');
  assert.equal(threadPoolSize({}), '4 (libuv default)');
});

test('the auth service keeps its secrets, and the enrollment service starts without them', () => {
  const env = { REGISTRAR_USERNAME: 'registrar', REGISTRAR_PASSWORD: 'pw', REGISTRAR_FILE: '/r', AUTH_KEY_ENCRYPTION_KEY: 'ab'.repeat(32), AUTH_KEY_ENCRYPTION_KEY_FILE: '/k', NODE_NAME: 'node1' };
  const auth = serviceEnv('auth', env, 2);
  for (const key of AUTH_ONLY_ENV) assert.equal(auth[key], env[key], `auth keeps ${key}`);
  const enroll = serviceEnv('enroll', env, 2);
  for (const key of AUTH_ONLY_ENV) assert.equal(enroll[key], undefined, `enroll starts without ${key}`);
  assert.equal(enroll.NODE_NAME, 'node1', 'the rest of the environment is kept');
  assert.equal(enroll.REGISTRAR_USERNAME, 'registrar', 'a name is no secret');
  assert.equal(env.REGISTRAR_PASSWORD, 'pw', 'the supervisor\'s own environment is untouched');
});

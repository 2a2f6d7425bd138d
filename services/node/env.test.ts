import assert from 'node:assert/strict';
import { test } from 'node:test';
import { authThreadPoolSize, serviceEnv, threadPoolSize } from './env.js';

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

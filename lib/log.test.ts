import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { AppError, Status } from './errors.js';
import { createLogger, loggedError } from './log.js';

test('a logged error keeps its kind, message, code and causes, never its stack', () => {
  const cause = Object.assign(new Error('Unsupported state or unable to authenticate data'), { code: 'ERR_CRYPTO' });
  const err = new AppError(Status.INTERNAL, 'signing key k1 cannot be decrypted', { cause });
  assert.deepEqual(loggedError(err), {
    type: 'AppError',
    message: 'signing key k1 cannot be decrypted',
    code: Status.INTERNAL,
    cause: { type: 'Error', message: 'Unsupported state or unable to authenticate data', code: 'ERR_CRYPTO' },
  });
  assert.equal(loggedError('a string thrown'), 'a string thrown');
  assert.deepEqual(loggedError(new Error('outer', { cause: 42 })), { type: 'Error', message: 'outer', cause: { type: 'value', message: '42' } });
});

test('a chain of causes that refers to itself ends', () => {
  const a = new Error('a');
  (a as { cause?: unknown }).cause = a;
  let depth = 0;
  for (let e: unknown = loggedError(a); typeof e === 'object' && e !== null; e = (e as { cause?: unknown }).cause) depth++;
  assert.equal(depth, 4);
});

test("a service's logger writes errors that way, and still redacts secrets", () => {
  let out = '';
  const sink = new Writable({ write(chunk, _enc, done) { out += String(chunk); done(); } });
  createLogger('auth', 'node1', sink).error({ err: new Error('boom'), password: 'hunter2' }, 'request failed');
  const line = JSON.parse(out) as { err: Record<string, unknown>; password: string; service: string };
  assert.deepEqual(line.err, { type: 'Error', message: 'boom' });
  assert.equal(line.password, '[redacted]');
  assert.equal(line.service, 'auth');
  assert.doesNotMatch(out, /\bat .*:\d+:\d+/, 'no stack frame');
});

test('an error nothing caught is one fatal line without a stack, and the process exits 1', () => {
  const script = `
    const { exitOnUncaughtError } = await import(${JSON.stringify(new URL('./log.js', import.meta.url).href)});
    exitOnUncaughtError('auth', 'node1');
    await Promise.resolve();
    throw new Error('JWKS_CACHE_S must be a whole number of seconds');
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, LOG_LEVEL: 'info' } });
  assert.equal(r.status, 1, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 1, r.stdout);
  const line = JSON.parse(lines[0]!) as { level: number; err: { message: string }; service: string };
  assert.equal(line.level, 60, 'fatal');
  assert.equal(line.err.message, 'JWKS_CACHE_S must be a whole number of seconds');
  assert.equal(line.service, 'auth');
  assert.doesNotMatch(r.stdout + r.stderr, /\bat .*:\d+:\d+/, 'no stack frame anywhere');
});

import assert from 'node:assert/strict';
import { beforeEach, test } from 'node:test';
import { isolateEnv } from '../test/support/env.js';
import { DefaultReplicaMaxLagMs, loadNodeConfig, millis, seconds } from './config.js';
import { DefaultStaleMs } from './read-memo.js';
import { DefaultBatchDelayMs, DefaultMaxBatch } from './writer.js';

const NAMES = ['NODE_NAME', 'LITEFS_MOUNT', 'LITEFS_API', 'WRITE_MODE', 'READ_MODE', 'WRITE_MAX_BATCH', 'WRITE_BATCH_DELAY_MS', 'FORWARD_MODE', 'WRITER_THREAD', 'READ_MEMO', 'READ_MEMO_STALE_MS', 'READ_THREAD', 'REPLICA_MAX_LAG_MS', 'LOGIN_COMMIT_WAIT_MS', 'JWKS_CACHE_S'];
isolateEnv(NAMES);

beforeEach(() => {
  process.env.NODE_NAME = 'node2';
  process.env.LITEFS_MOUNT = '/mnt/node2';
  process.env.LITEFS_API = 'http://127.0.0.1:20202';
});

test('defaults: group commit of at most DefaultMaxBatch on a writer thread, shared reads on a reader thread, writes forwarded on a stream', () => {
  const c = loadNodeConfig();
  assert.deepEqual(c, {
    nodeName: 'node2',
    mountDir: '/mnt/node2',
    litefsApi: 'http://127.0.0.1:20202',
    writeMode: 'batch',
    readMode: 'shared',
    maxBatch: DefaultMaxBatch,
    batchDelayMs: DefaultBatchDelayMs,
    forwardMode: 'stream',
    writerThread: true,
    readMemo: true,
    readMemoStaleMs: DefaultStaleMs,
    readThread: true,
    replicaMaxLagMs: DefaultReplicaMaxLagMs,
  });
});

test('READ_THREAD=off reads on the event loop; anything but on/off is refused by name', () => {
  process.env.READ_THREAD = 'off';
  assert.equal(loadNodeConfig().readThread, false);
  process.env.READ_THREAD = 'true';
  assert.throws(() => loadNodeConfig(), /READ_THREAD must be on or off/);
});

test('WRITER_THREAD=off runs writes on the event loop; anything but on/off is refused by name', () => {
  process.env.WRITER_THREAD = 'off';
  assert.equal(loadNodeConfig().writerThread, false);
  process.env.WRITER_THREAD = 'yes';
  assert.throws(() => loadNodeConfig(), /WRITER_THREAD must be on or off/);
});

test('READ_MEMO=off reads the catalogue afresh every time; anything but on/off is refused by name', () => {
  process.env.READ_MEMO = 'off';
  assert.equal(loadNodeConfig().readMemo, false);
  process.env.READ_MEMO = '1';
  assert.throws(() => loadNodeConfig(), /READ_MEMO must be on or off/);
});

for (const { name, field, max, what } of [
  { name: 'WRITE_BATCH_DELAY_MS', field: 'batchDelayMs', max: 50, what: 'the most a busy primary holds a batch back; 0 turns that off' },
  { name: 'READ_MEMO_STALE_MS', field: 'readMemoStaleMs', max: 1000, what: 'how old a kept catalogue answer may be; 0 gives only current ones' },
  { name: 'REPLICA_MAX_LAG_MS', field: 'replicaMaxLagMs', max: 3_600_000, what: 'how long a replica may go without hearing from its primary and still offer reads; 0: for ever' },
] as const) {
  test(`${name} sets ${what}; other values are refused by name`, () => {
    for (const ok of [0, Math.floor(max / 2), max]) {
      process.env[name] = String(ok);
      assert.equal(loadNodeConfig()[field], ok);
    }
    for (const bad of ['-1', String(max + 1), '2.5', 'soon']) {
      process.env[name] = bad;
      assert.throws(() => loadNodeConfig(), new RegExp(`${name} must be a whole number of milliseconds from 0 to ${max}`), bad);
    }
  });
}

test('WRITE_MAX_BATCH sets the batch bound', () => {
  process.env.WRITE_MAX_BATCH = '32';
  assert.equal(loadNodeConfig().maxBatch, 32);
});

test('a WRITE_MAX_BATCH that is not a positive integer is refused by name', () => {
  for (const bad of ['0', '-3', '2.5', 'many']) {
    process.env.WRITE_MAX_BATCH = bad;
    assert.throws(() => loadNodeConfig(), /WRITE_MAX_BATCH must be a positive integer/, bad);
  }
});

test('FORWARD_MODE=unary forwards a unary call per write; anything else is refused by name', () => {
  process.env.FORWARD_MODE = 'unary';
  assert.equal(loadNodeConfig().forwardMode, 'unary');
  process.env.FORWARD_MODE = 'pigeon';
  assert.throws(() => loadNodeConfig(), /FORWARD_MODE must be stream or unary/);
});

test('an unknown WRITE_MODE or READ_MODE is refused by name', () => {
  process.env.WRITE_MODE = 'eventually';
  assert.throws(() => loadNodeConfig(), /WRITE_MODE must be batch or single/);
  delete process.env.WRITE_MODE;
  process.env.READ_MODE = 'dirty';
  assert.throws(() => loadNodeConfig(), /READ_MODE must be shared or per-statement/);
});

test('millis: the default when unset, whole milliseconds within bounds, a clear error otherwise', () => {
  assert.equal(millis('LOGIN_COMMIT_WAIT_MS', 40, 100), 40);
  process.env.LOGIN_COMMIT_WAIT_MS = '0';
  assert.equal(millis('LOGIN_COMMIT_WAIT_MS', 40, 100), 0);
  process.env.LOGIN_COMMIT_WAIT_MS = '100';
  assert.equal(millis('LOGIN_COMMIT_WAIT_MS', 40, 100), 100);
  for (const bad of ['101', '-1', '2.5', 'soon']) {
    process.env.LOGIN_COMMIT_WAIT_MS = bad;
    assert.throws(() => millis('LOGIN_COMMIT_WAIT_MS', 40, 100), /LOGIN_COMMIT_WAIT_MS must be a whole number of milliseconds from 0 to 100/);
  }
});

test('seconds: the default when unset, whole seconds from 1 to the bound, a clear error otherwise', () => {
  assert.equal(seconds('JWKS_CACHE_S', 300, 3600), 300);
  process.env.JWKS_CACHE_S = '1';
  assert.equal(seconds('JWKS_CACHE_S', 300, 3600), 1);
  process.env.JWKS_CACHE_S = '3600';
  assert.equal(seconds('JWKS_CACHE_S', 300, 3600), 3600);
  for (const bad of ['0', '3601', '-5', '1.5', 'forever']) {
    process.env.JWKS_CACHE_S = bad;
    assert.throws(() => seconds('JWKS_CACHE_S', 300, 3600), /JWKS_CACHE_S must be a whole number of seconds from 1 to 3600/);
  }
});

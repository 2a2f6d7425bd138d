import { afterEach, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { createAuthStore } from '../store/auth-store.js';
import type { AuthDomain } from './index.js';
import { TestClock, newDomain, openTestDb, type TestDb } from './testkit.js';
import { sqliteTimestamp } from './timestamps.js';
import { hashRefreshToken } from './tokens.js';

const DAY = 24 * 3600;
const PASSWORD = 'a long enough password';
const IP = { ip: '10.0.0.1', method: 'login' } as const;

let t: TestDb;
let clock: TestClock;

beforeEach(() => {
  t = openTestDb();
  clock = new TestClock();
});
afterEach(() => t.close());

/** A domain over `t` with one user, ana; `kek` opens its signing keys for another domain over `t`. */
async function withUser(extra: Parameters<typeof newDomain>[2] = {}): Promise<{ domain: AuthDomain; kek: Buffer }> {
  const made = newDomain(t, clock, extra);
  await made.domain.ensureSigningKeys();
  await made.domain.register({ username: 'ana', email: 'ana@example.edu', password: PASSWORD });
  return made;
}

const logTimes = () => t.read.prepare('SELECT request_timestamp FROM auth_logs ORDER BY id').pluck().all() as string[];
const refreshRows = () =>
  t.read.prepare('SELECT token_hash, used_at IS NOT NULL AS used, revoked FROM refresh_tokens ORDER BY id').all() as Array<{ token_hash: string; used: number; revoked: number }>;

test('audit entries older than the retention go, oldest first, at most the batch per call; newer ones stay', async () => {
  const { domain } = await withUser({ auditRetentionS: 100 });
  for (let i = 0; i < 5; i++) {
    await domain.login({ username: 'ana', password: PASSWORD }, IP);
    clock.advance(30);
  }
  // Entries at 0, 30, 60, 90 and 120 s; now 150 s: those at 0, 30 (and not 60) are past 100 s.
  assert.equal(logTimes().length, 5);
  assert.deepEqual(await domain.prune(1), { authLogs: 1, refreshTokens: 0 });
  assert.deepEqual(await domain.prune(), { authLogs: 1, refreshTokens: 0 });
  assert.deepEqual(await domain.prune(), { authLogs: 0, refreshTokens: 0 });
  assert.deepEqual(logTimes(), ['2025-01-06 09:01:00', '2025-01-06 09:01:30', '2025-01-06 09:02:00']);
  clock.advance(1000);
  assert.deepEqual(await domain.prune(), { authLogs: 3, refreshTokens: 0 });
  assert.deepEqual(logTimes(), []);
});

test('an entry within the retention holds back older ones written after it, and a retention of 0 keeps everything', async () => {
  const { domain } = await withUser({ auditRetentionS: 100 });
  const store = createAuthStore(t.writer);
  const entry = (at: Date) => ({ request_ip: '10.0.0.9', request_timestamp: sqliteTimestamp(at), user_id: null, outcome: 'ok', method: 'login', username: 'x' });
  // Out of time order (a clock stepped back): a recent entry, then an old one.
  store.insertAuthLog(entry(clock.now()));
  store.insertAuthLog(entry(new Date(clock.now().getTime() - 1000_000)));
  assert.deepEqual(await domain.prune(), { authLogs: 0, refreshTokens: 0 });
  assert.equal(logTimes().length, 2);
  clock.advance(101);
  assert.deepEqual(await domain.prune(), { authLogs: 2, refreshTokens: 0 });

  const { domain: forever } = newDomain(t, clock, { auditRetentionS: 0 });
  store.insertAuthLog(entry(new Date(0)));
  assert.deepEqual(await forever.prune(), { authLogs: 0, refreshTokens: 0 });
  assert.equal(logTimes().length, 1);
});

test('a refresh token goes once it has been expired for a refresh lifetime; until then a used one still revokes its chain', async () => {
  const { domain } = await withUser({ refreshTtl: 7 * DAY });
  const first = await domain.login({ username: 'ana', password: PASSWORD }, IP);
  clock.advance(10);
  const second = await domain.refresh({ refresh_token: first.refresh_token }, IP);
  // The first expired at 7 days, the second expires at 7 days 10 s: 14 days 5 s on, only
  // the first has been expired for 7 days.
  clock.advance(7 * DAY - 10 + 7 * DAY + 5);
  assert.deepEqual(await domain.prune(), { authLogs: 0, refreshTokens: 1 });
  assert.deepEqual(
    refreshRows().map((r) => r.token_hash),
    [hashRefreshToken(second.refresh_token)],
  );
  // The used token, gone, is refused as unknown: its chain is not revoked for it.
  await assert.rejects(domain.refresh({ refresh_token: first.refresh_token }, IP));
  assert.equal(t.read.prepare('SELECT outcome FROM auth_logs ORDER BY id DESC LIMIT 1').pluck().get(), 'refresh_invalid');
  assert.equal(refreshRows()[0]!.revoked, 0);
  clock.advance(10);
  assert.deepEqual(await domain.prune(), { authLogs: 0, refreshTokens: 1 });
  assert.deepEqual(refreshRows(), []);
});

test('a refresh token that expired before the older one it replaced waits for it: no reference is left dangling', async () => {
  // Lifetimes shortened between a login and its refresh (a changed setting).
  const long = await withUser({ refreshTtl: 30 * DAY });
  const first = await long.domain.login({ username: 'ana', password: PASSWORD }, IP);
  const { domain: short } = newDomain(t, clock, { refreshTtl: 60, keyEncryptionKey: long.kek });
  await short.refresh({ refresh_token: first.refresh_token }, IP);
  // The second (60 s) is long past its lifetime; the first it replaced (30 days) is not.
  clock.advance(3 * DAY);
  assert.deepEqual(await short.prune(), { authLogs: 0, refreshTokens: 0 });
  assert.deepEqual(
    refreshRows().map((r) => r.used),
    [1, 0],
  );
  clock.advance(60 * DAY);
  assert.deepEqual(await short.prune(), { authLogs: 0, refreshTokens: 2 });
});

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AppError, Status } from '../../../lib/errors.js';
import type { AuthDomain } from './index.js';
import { DEFAULT_LOGIN_THROTTLE, loginRetryAfter } from './login-throttle.js';
import { TestClock, newDomain, openTestDb } from './testkit.js';
import type { TestDb } from './testkit.js';

test('loginRetryAfter: refused only once the limit is reached, until the window ends', () => {
  const policy = { limit: 3, windowS: 60 };
  const row = (failures: number) => ({ username: 'u', failures, window_start: 1000, last_failure: 1010 });
  assert.equal(loginRetryAfter(undefined, policy, 1010), 0);
  assert.equal(loginRetryAfter(row(2), policy, 1010), 0);
  assert.equal(loginRetryAfter(row(3), policy, 1010), 50);
  assert.equal(loginRetryAfter(row(9), policy, 1059), 1);
  assert.equal(loginRetryAfter(row(9), policy, 1060), 0);
  assert.equal(loginRetryAfter(row(9), { limit: 0, windowS: 60 }, 1010), 0, 'limit 0 turns it off');
  assert.deepEqual(DEFAULT_LOGIN_THROTTLE, { limit: 10, windowS: 900 });
});

describe('login throttle per username', () => {
  let t: TestDb;
  let clock: TestClock;
  let domain: AuthDomain;
  const PASSWORD = 'the right password';
  const meta = { ip: '10.3.0.1', method: 'login' as const };

  before(async () => {
    t = openTestDb();
    clock = new TestClock();
    ({ domain } = newDomain(t, clock, { loginThrottle: { limit: 3, windowS: 60 } }));
    await domain.ensureSigningKeys();
    for (const username of ['tess', 'uma', 'vic', 'wes', 'yan', 'zoe']) await domain.register({ username, email: `${username}@example.edu`, password: PASSWORD });
  });
  after(() => t.close());

  const attempt = async (username: string, password: string): Promise<Status | 'ok'> => {
    try {
      await domain.login({ username, password }, meta);
      return 'ok';
    } catch (err) {
      assert.ok(err instanceof AppError, String(err));
      return err.code;
    }
  };
  const failuresRow = (username: string) => t.read.prepare('SELECT failures FROM login_failures WHERE username = ?').pluck().get(username);
  const outcomes = (username: string) =>
    t.read.prepare('SELECT outcome FROM auth_logs WHERE username = ? COLLATE NOCASE ORDER BY id').pluck().all(username);

  test('after the limit, even the right password is refused with RESOURCE_EXHAUSTED, audited, until the window ends', async () => {
    for (const name of ['tess', 'TESS', 'Tess']) assert.equal(await attempt(name, 'a wrong password'), Status.UNAUTHENTICATED);
    clock.advance(20);
    await assert.rejects(domain.login({ username: 'tess', password: PASSWORD }, meta), {
      code: Status.RESOURCE_EXHAUSTED,
      message: 'too many failed logins for this username; try again in 40 s',
    });
    assert.equal(await attempt('uma', PASSWORD), 'ok', 'other usernames are not affected');
    clock.advance(39);
    assert.equal(await attempt('tess', PASSWORD), Status.RESOURCE_EXHAUSTED);
    assert.deepEqual(outcomes('tess'), ['bad_credentials', 'bad_credentials', 'bad_credentials', 'throttled', 'throttled']);
    clock.advance(1);
    assert.equal(await attempt('tess', PASSWORD), 'ok');
    assert.equal(failuresRow('tess'), undefined, 'a successful login clears the count');
  });

  test('a successful login resets the count; failures spread over more than a window do not add up', async () => {
    assert.equal(await attempt('vic', 'wrong one'), Status.UNAUTHENTICATED);
    assert.equal(await attempt('vic', 'wrong two'), Status.UNAUTHENTICATED);
    assert.equal(await attempt('vic', PASSWORD), 'ok');
    assert.equal(await attempt('vic', 'wrong three'), Status.UNAUTHENTICATED);
    assert.equal(await attempt('vic', 'wrong four'), Status.UNAUTHENTICATED);
    clock.advance(61);
    assert.equal(await attempt('vic', 'wrong five'), Status.UNAUTHENTICATED, 'a new window');
    assert.equal(failuresRow('vic'), 1);
    assert.equal(await attempt('vic', PASSWORD), 'ok');
  });

  test('an unknown username is throttled the same way, so the answers tell nothing about who exists', async () => {
    const known: Array<Status | 'ok'> = [];
    const unknown: Array<Status | 'ok'> = [];
    for (let i = 0; i < 4; i++) {
      known.push(await attempt('wes', 'not it'));
      unknown.push(await attempt('nobody-here', 'not it'));
    }
    assert.deepEqual(known, unknown);
    assert.deepEqual(unknown, [Status.UNAUTHENTICATED, Status.UNAUTHENTICATED, Status.UNAUTHENTICATED, Status.RESOURCE_EXHAUSTED]);
  });

  test('guesses checked at once are counted as they are written: past the limit the rest are throttled', async () => {
    // All six pass the check before their passwords before any of them is counted.
    const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => attempt('yan', `wrong ${i}`)));
    const count = (status: Status) => answers.filter((a) => a === status).length;
    assert.deepEqual([count(Status.UNAUTHENTICATED), count(Status.RESOURCE_EXHAUSTED)], [3, 3], `answers: ${answers.join(', ')}`);
    assert.equal(failuresRow('yan'), 3, 'no more than the limit is counted');
    assert.deepEqual(outcomes('yan'), ['bad_credentials', 'bad_credentials', 'bad_credentials', 'throttled', 'throttled', 'throttled']);
  });

  test('the right password among guesses checked at once gets in only if the limit was not reached before its write', async () => {
    const sent = ['w1', 'w2', PASSWORD, 'w3', 'w4', 'w5'];
    const answers = await Promise.all(sent.map((p) => attempt('zoe', p)));
    // The audit rows, in the order they were written, must follow the rule one at a time.
    let failures = 0;
    for (const outcome of outcomes('zoe') as string[]) {
      if (failures >= 3) assert.equal(outcome, 'throttled', `after ${failures} failures: ${outcomes('zoe').join(', ')}`);
      else if (outcome === 'ok') failures = 0;
      else assert.equal(outcome, 'bad_credentials', outcomes('zoe').join(', '));
      if (outcome === 'bad_credentials') failures++;
    }
    const right = answers[sent.indexOf(PASSWORD)];
    assert.equal(right === 'ok', (outcomes('zoe') as string[]).includes('ok'), 'the right password is answered as audited');
    assert.equal(failuresRow('zoe') ?? 0, failures);
  });

  test('rows of ended windows are deleted by later failures', async () => {
    clock.advance(3600);
    const live = () => t.read.prepare('SELECT count(*) FROM login_failures').pluck().get() as number;
    assert.ok(live() >= 2, 'wes, nobody-here and others still have rows');
    assert.equal(await attempt('someone-else', 'wrong'), Status.UNAUTHENTICATED);
    assert.deepEqual(t.read.prepare('SELECT username FROM login_failures').pluck().all(), ['someone-else']);
  });

  test('limit 0 never throttles', async () => {
    const t0 = openTestDb();
    try {
      const { domain: open } = newDomain(t0, new TestClock(), { loginThrottle: { limit: 0, windowS: 60 } });
      await open.ensureSigningKeys();
      await open.register({ username: 'xena', email: 'xena@example.edu', password: PASSWORD });
      for (let i = 0; i < 5; i++) await assert.rejects(open.login({ username: 'xena', password: 'wrong' }, meta), { code: Status.UNAUTHENTICATED });
      await open.login({ username: 'xena', password: PASSWORD }, meta);
    } finally {
      t0.close();
    }
  });
});

describe('a password reset by the registrar', () => {
  test('gives a new password once, ends the old one, every refresh token and the lockout, and is audited', async () => {
    const t = openTestDb();
    try {
      const clock = new TestClock();
      const { domain } = newDomain(t, clock, { loginThrottle: { limit: 2, windowS: 600 } });
      await domain.ensureSigningKeys();
      const meta = { ip: '10.5.0.1', method: 'login' as const };
      const { user_id: id } = await domain.register({ username: 'yara', email: 'yara@example.edu', password: 'the old password' });
      const before = await domain.login({ username: 'yara', password: 'the old password' }, meta);
      for (let i = 0; i < 2; i++) await assert.rejects(domain.login({ username: 'yara', password: 'a wrong one' }, meta), { code: Status.UNAUTHENTICATED });
      await assert.rejects(domain.login({ username: 'yara', password: 'the old password' }, meta), { code: Status.RESOURCE_EXHAUSTED });

      const registrar = { userId: 999, roles: ['registrar'] };
      await assert.rejects(domain.resetPassword({ userId: id, roles: ['student'] }, { user_id: id }, meta), { code: Status.PERMISSION_DENIED });
      await assert.rejects(domain.resetPassword(registrar, { user_id: 4242 }, meta), { code: Status.NOT_FOUND });
      await assert.rejects(domain.resetPassword(registrar, {}, meta), { code: Status.INVALID_ARGUMENT, field: 'user_id' });

      const reset = await domain.resetPassword(registrar, { user_id: id }, meta);
      assert.deepEqual({ ...reset, password: '' }, { user_id: id, username: 'yara', password: '' });
      assert.match(reset.password, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      await assert.rejects(domain.login({ username: 'yara', password: 'the old password' }, meta), { code: Status.UNAUTHENTICATED });
      await assert.rejects(domain.refresh({ refresh_token: before.refresh_token }, meta), { code: Status.UNAUTHENTICATED });
      await domain.login({ username: 'yara', password: reset.password }, meta);
      const outcomes = t.read.prepare("SELECT outcome FROM auth_logs WHERE user_id = ? AND method = 'password'").pluck().all(id);
      assert.deepEqual(outcomes, ['password_reset']);
    } finally {
      t.close();
    }
  });
});

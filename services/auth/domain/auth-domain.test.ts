import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { AppError, Status } from '../../../lib/errors.js';
import type { AuthDomain } from './auth-domain.js';
import { argon2Params } from './passwords.js';
import { hashRefreshToken } from './tokens.js';
import { TestClock, newDomain, openTestDb } from './testkit.js';
import type { TestDb } from './testkit.js';
import { createWriter, type WriteFn } from '../../../lib/writer.js';
import type { WritableDb } from '../../../lib/sqlite.js';

let t: TestDb;
let clock: TestClock;
let domain: AuthDomain;

before(async () => {
  t = openTestDb();
  clock = new TestClock();
  ({ domain } = newDomain(t, clock));
  await domain.ensureSigningKeys();
});
after(() => t.close());

/** Asserts that `promise` rejects with an AppError of `code` (and `field`, when given). */
async function rejectsWith(promise: Promise<unknown>, code: Status, field?: string): Promise<AppError> {
  let caught: unknown;
  await assert.rejects(promise, (err) => {
    caught = err;
    return true;
  });
  assert.ok(caught instanceof AppError, `expected an AppError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  if (field !== undefined) assert.equal(caught.field, field);
  return caught;
}

const logs = () =>
  t.read.prepare('SELECT request_ip, user_id, outcome, method, username FROM auth_logs ORDER BY id').all() as {
    request_ip: string;
    user_id: number | null;
    outcome: string;
    method: string;
    username: string | null;
  }[];

const lastLog = () => logs().at(-1)!;

describe('register', () => {
  test('validation names the field', async () => {
    const ok = { username: 'valid.user', email: 'valid@example.edu', password: 'long enough' };
    const cases: [Record<string, unknown>, string][] = [
      [{ ...ok, username: '' }, 'username'],
      [{ ...ok, username: 'ab' }, 'username'],
      [{ ...ok, username: 'x'.repeat(65) }, 'username'],
      [{ ...ok, username: 'has space' }, 'username'],
      [{ ...ok, username: 'semi;colon' }, 'username'],
      [{ ...ok, email: '' }, 'email'],
      [{ ...ok, email: 'no-at-sign' }, 'email'],
      [{ ...ok, email: 'a@nodot' }, 'email'],
      [{ ...ok, email: `${'a'.repeat(64)}@${'b'.repeat(186)}.edu` }, 'email'],
      [{ ...ok, first_name: 'x'.repeat(101) }, 'first_name'],
      [{ ...ok, last_name: 'bad\u0000name' }, 'last_name'],
      [{ ...ok, password: 'short' }, 'password'],
      [{ ...ok, password: 'p'.repeat(129) }, 'password'],
      [{ ...ok, roles: ['admin'] }, 'roles'],
    ];
    for (const [input, field] of cases) {
      await rejectsWith(domain.register(input), Status.INVALID_ARGUMENT, field);
    }
    assert.equal(t.read.prepare('SELECT count(*) AS n FROM users').pluck().get(), 0);
  });

  test('names are trimmed, as the enrollment service trims its text fields, at registration and on a change', async () => {
    const { user_id: id } = await domain.register({ username: 'trim.me', email: 'trim.me@example.edu', first_name: '  Ann ', last_name: '\tLee\n', password: 'long enough' });
    assert.deepEqual([domain.me(id).first_name, domain.me(id).last_name], ['Ann', 'Lee']);
    await domain.updateMe(id, { first_name: ' Anne  ', last_name: '   ' });
    assert.deepEqual([domain.me(id).first_name, domain.me(id).last_name], ['Anne', '']);
  });

  test('names are refused in the words the enrollment service uses for its own text fields', async () => {
    const ok = { username: 'worded.user', email: 'worded@example.edu', password: 'long enough' };
    const long = await rejectsWith(domain.register({ ...ok, first_name: 'x'.repeat(101) }), Status.INVALID_ARGUMENT, 'first_name');
    assert.equal(long.message, 'first_name: must be at most 100 characters');
    const tab = await rejectsWith(domain.register({ ...ok, last_name: 'tab\there' }), Status.INVALID_ARGUMENT, 'last_name');
    assert.equal(tab.message, 'last_name: must not contain control characters (line breaks, tabs, NUL)');
  });

  test('a generated password is returned once, stored as argon2id, and logs in', async () => {
    const res = await domain.register({ username: 'gen.user', email: 'gen@example.edu', first_name: 'Gen', last_name: 'User' });
    assert.equal(res.username, 'gen.user');
    assert.deepEqual(res.roles, ['student']);
    assert.match(res.password, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const hash = t.read.prepare('SELECT password_hash FROM users WHERE id = ?').pluck().get(res.user_id) as string;
    assert.ok(!hash.includes(res.password));
    assert.deepEqual(argon2Params(hash), { algorithm: 'argon2id', version: 19, m: 19456, t: 2, p: 1 });
    // The profile never shows it again.
    const me = domain.me(res.user_id);
    assert.ok(!JSON.stringify(me).includes(res.password));
    assert.equal(me.first_name, 'Gen');
    const login = await domain.login({ username: 'gen.user', password: res.password }, { ip: '10.0.0.9', method: 'login' });
    assert.ok(login.access_token.length > 0);
  });

  test('a chosen password is not echoed back', async () => {
    const res = await domain.register({ username: 'chooser', email: 'chooser@example.edu', password: 'my own password' });
    assert.equal(res.password, '');
  });

  test('duplicate username or email (any case) is ALREADY_EXISTS', async () => {
    await domain.register({ username: 'dupe', email: 'dupe@example.edu', password: 'password1' });
    const a = await rejectsWith(domain.register({ username: 'DUPE', email: 'other@example.edu', password: 'password1' }), Status.ALREADY_EXISTS);
    assert.match(a.message, /username/);
    const b = await rejectsWith(domain.register({ username: 'other', email: 'Dupe@Example.edu', password: 'password1' }), Status.ALREADY_EXISTS);
    assert.match(b.message, /email/);
  });

  test('instructor and registrar roles need a registrar caller', async () => {
    const input = { username: 'prof', email: 'prof@example.edu', password: 'password1', roles: ['instructor'] };
    await rejectsWith(domain.register(input), Status.PERMISSION_DENIED);
    await rejectsWith(domain.register(input, { userId: 1, roles: ['student', 'instructor'] }), Status.PERMISSION_DENIED);
    await rejectsWith(domain.register({ ...input, roles: ['student', 'registrar'] }), Status.PERMISSION_DENIED);

    const registrar = await domain.ensureRegistrar('head.registrar', 'registrar-secret');
    assert.equal(registrar.created, true);
    assert.deepEqual(await domain.ensureRegistrar('head.registrar', 'registrar-secret'), { user_id: registrar.user_id, created: false });
    const token = await domain.login({ username: 'head.registrar', password: 'registrar-secret' }, { ip: '10.0.0.2', method: 'login' });
    const caller = await domain.verifyAccessToken(token.access_token);
    assert.deepEqual(caller.roles, ['registrar']);
    const res = await domain.register({ ...input, roles: ['instructor', 'instructor'] }, caller);
    assert.deepEqual(res.roles, ['instructor']);
    assert.deepEqual(domain.me(res.user_id).roles, ['instructor']);
  });
});

describe('login', () => {
  const PASSWORD = 'login-test-password';
  let userId: number;
  before(async () => {
    ({ user_id: userId } = await domain.register({ username: 'lena', email: 'lena@example.edu', password: PASSWORD }));
  });

  test('unknown user and wrong password fail the same way and are logged', async () => {
    assert.equal(domain.me(userId).last_login, '');
    const unknown = await rejectsWith(domain.login({ username: 'nobody', password: PASSWORD }, { ip: '10.1.1.1', method: 'login' }), Status.UNAUTHENTICATED);
    assert.deepEqual(lastLog(), { request_ip: '10.1.1.1', user_id: null, outcome: 'bad_credentials', method: 'login', username: 'nobody' });
    const wrong = await rejectsWith(domain.login({ username: 'lena', password: 'not-the-password' }, { ip: '10.1.1.2', method: 'auth' }), Status.UNAUTHENTICATED);
    assert.deepEqual(lastLog(), { request_ip: '10.1.1.2', user_id: userId, outcome: 'bad_credentials', method: 'auth', username: 'lena' });
    assert.equal(unknown.message, 'invalid username or password');
    assert.equal(wrong.message, unknown.message);
    assert.equal(domain.me(userId).last_login, '');
    await rejectsWith(domain.login({ username: '', password: 'x' }, { ip: '10.1.1.3', method: 'login' }), Status.INVALID_ARGUMENT, 'username');
  });

  test('an unknown user costs about as much time as a wrong password', async () => {
    const time = async (username: string) => {
      const samples: number[] = [];
      for (let i = 0; i < 3; i++) {
        const start = performance.now();
        await domain.login({ username, password: 'wrong-password' }, { ip: '10.1.1.4', method: 'login' }).catch(() => undefined);
        samples.push(performance.now() - start);
      }
      return samples.sort((a, b) => a - b)[1]!;
    };
    const unknown = await time('no-such-user');
    const known = await time('lena');
    assert.ok(unknown > known * 0.5, `unknown user ${unknown.toFixed(1)} ms vs wrong password ${known.toFixed(1)} ms`);
  });

  test('success sets last_login, logs the attempt and returns both tokens', async () => {
    clock.advance(60);
    const res = await domain.login({ username: 'LENA', password: PASSWORD }, { ip: '10.1.1.5', method: 'login' });
    assert.deepEqual(lastLog(), { request_ip: '10.1.1.5', user_id: userId, outcome: 'ok', method: 'login', username: 'LENA' });
    assert.equal(domain.me(userId).last_login, clock.now().toISOString().slice(0, 19) + 'Z');
    assert.match(domain.me(userId).date_registered, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    assert.match(res.refresh_token, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(res.refresh_expires_in, 7 * 24 * 3600);
    assert.equal(
      t.read.prepare('SELECT count(*) FROM refresh_tokens WHERE token_hash = ?').pluck().get(res.refresh_token),
      0,
      'the refresh token is stored only hashed',
    );
    const expired = await domain.login({ username: 'lena', password: PASSWORD }, { ip: '10.1.1.6', method: 'auth', expired: true });
    assert.ok(expired.expires_in < 0);
    assert.equal(lastLog().outcome, 'expired_key');
  });
});

describe('refresh', () => {
  const PASSWORD = 'refresh-test-password';
  let rickId: number;
  before(async () => {
    ({ user_id: rickId } = await domain.register({ username: 'rick', email: 'rick@example.edu', password: PASSWORD }));
  });
  const login = () => domain.login({ username: 'rick', password: PASSWORD }, { ip: '10.2.0.1', method: 'login' });

  test('rotation issues a new pair; reusing a retired token revokes the whole family', async () => {
    const first = await login();
    const other = await login(); // another family (another device)
    clock.advance(30);
    const second = await domain.refresh({ refresh_token: first.refresh_token }, { ip: '10.2.0.2' });
    assert.notEqual(second.refresh_token, first.refresh_token);
    assert.equal((await domain.verifyAccessToken(second.access_token)).username, 'rick');
    assert.deepEqual(lastLog(), { request_ip: '10.2.0.2', user_id: rickId, outcome: 'refresh_ok', method: 'token', username: 'rick' });

    const third = await domain.refresh({ refresh_token: second.refresh_token }, { ip: '10.2.0.2' });
    // The first token again: reuse. The audit row commits although the call fails.
    await rejectsWith(domain.refresh({ refresh_token: first.refresh_token }, { ip: '10.6.6.6' }), Status.UNAUTHENTICATED);
    assert.deepEqual(lastLog(), { request_ip: '10.6.6.6', user_id: rickId, outcome: 'refresh_reuse', method: 'token', username: 'rick' });
    // The newest token of that family is now dead too.
    await rejectsWith(domain.refresh({ refresh_token: third.refresh_token }, { ip: '10.2.0.2' }), Status.UNAUTHENTICATED);
    assert.equal(lastLog().outcome, 'refresh_reuse');
    // Another family is untouched.
    assert.ok((await domain.refresh({ refresh_token: other.refresh_token }, { ip: '10.2.0.3' })).access_token);
  });

  test('unknown and expired refresh tokens are UNAUTHENTICATED', async () => {
    await rejectsWith(domain.refresh({ refresh_token: 'x'.repeat(43) }, { ip: '10.2.0.4' }), Status.UNAUTHENTICATED);
    assert.equal(lastLog().outcome, 'refresh_invalid');
    await rejectsWith(domain.refresh({ refresh_token: '' }, { ip: '10.2.0.4' }), Status.INVALID_ARGUMENT, 'refresh_token');
    const res = await login();
    clock.advance(7 * 24 * 3600);
    await domain.ensureSigningKeys(); // a week later the schedule has moved on
    await rejectsWith(domain.refresh({ refresh_token: res.refresh_token }, { ip: '10.2.0.5' }), Status.UNAUTHENTICATED);
    assert.equal(lastLog().outcome, 'refresh_expired');
  });
});

describe('logout', () => {
  const PASSWORD = 'logout-test-password';
  let userId: number;
  before(async () => {
    ({ user_id: userId } = await domain.register({ username: 'lou', email: 'lou@example.edu', password: PASSWORD }));
  });
  const login = () => domain.login({ username: 'lou', password: PASSWORD }, { ip: '10.3.0.1', method: 'login' });

  test("revokes the login's whole chain, older tokens included, and no other login's", async () => {
    const first = await login();
    const other = await login();
    const second = await domain.refresh({ refresh_token: first.refresh_token }, { ip: '10.3.0.2' });
    assert.deepEqual(await domain.logout({ refresh_token: second.refresh_token }, { ip: '10.3.0.3' }), {});
    assert.deepEqual(lastLog(), { request_ip: '10.3.0.3', user_id: userId, outcome: 'logout', method: 'logout', username: 'lou' });
    await rejectsWith(domain.refresh({ refresh_token: second.refresh_token }, { ip: '10.3.0.2' }), Status.UNAUTHENTICATED);
    const family = t.read.prepare('SELECT family_id FROM refresh_tokens WHERE token_hash = ?').pluck().get(hashRefreshToken(first.refresh_token));
    assert.deepEqual(t.read.prepare('SELECT DISTINCT revoked FROM refresh_tokens WHERE family_id = ?').pluck().all(family), [1], 'every token of the chain');
    assert.ok((await domain.refresh({ refresh_token: other.refresh_token }, { ip: '10.3.0.4' })).access_token, 'another login is untouched');
  });

  test('an unknown or already revoked token is answered the same, and audited; an empty one is INVALID_ARGUMENT', async () => {
    assert.deepEqual(await domain.logout({ refresh_token: 'y'.repeat(43) }, { ip: '10.3.0.5' }), {});
    assert.deepEqual(lastLog(), { request_ip: '10.3.0.5', user_id: null, outcome: 'logout_invalid', method: 'logout', username: null });
    const res = await login();
    await domain.logout({ refresh_token: res.refresh_token }, { ip: '10.3.0.6' });
    assert.deepEqual(await domain.logout({ refresh_token: res.refresh_token }, { ip: '10.3.0.6' }), {}, 'twice');
    await rejectsWith(domain.logout({ refresh_token: '' }, { ip: '10.3.0.7' }), Status.INVALID_ARGUMENT, 'refresh_token');
    await rejectsWith(domain.logout({}, { ip: '10.3.0.7' }), Status.INVALID_ARGUMENT, 'refresh_token');
  });
});

describe('password change', () => {
  const OLD = 'the old password';
  const NEW = 'a brand new password';
  let userId: number;
  before(async () => {
    ({ user_id: userId } = await domain.register({ username: 'pat', email: 'pat@example.edu', password: OLD }));
  });
  const login = (password: string) => domain.login({ username: 'pat', password }, { ip: '10.4.0.1', method: 'login' });

  test('needs the current password; then the new one logs in, the old one not, and every refresh token is revoked', async () => {
    const phone = await login(OLD);
    await rejectsWith(domain.changePassword(userId, { current_password: 'not the old one', new_password: NEW }, { ip: '10.4.0.2' }), Status.INVALID_ARGUMENT, 'current_password');
    assert.deepEqual(lastLog(), { request_ip: '10.4.0.2', user_id: userId, outcome: 'bad_credentials', method: 'password', username: 'pat' });
    assert.ok((await login(OLD)).access_token, 'a refused change changes nothing');

    const res = await domain.changePassword(userId, { current_password: OLD, new_password: NEW }, { ip: '10.4.0.3' });
    assert.deepEqual(lastLog(), { request_ip: '10.4.0.3', user_id: userId, outcome: 'password_changed', method: 'password', username: 'pat' });
    assert.equal((await domain.verifyAccessToken(res.access_token)).userId, userId, 'the answer is a new pair');
    await rejectsWith(login(OLD), Status.UNAUTHENTICATED);
    assert.ok((await login(NEW)).access_token);
    await rejectsWith(domain.refresh({ refresh_token: phone.refresh_token }, { ip: '10.4.0.4' }), Status.UNAUTHENTICATED);
    assert.ok((await domain.refresh({ refresh_token: res.refresh_token }, { ip: '10.4.0.5' })).access_token, "the new pair's refresh token works");
  });

  test('the new password is checked like any password; both fields are required', async () => {
    await rejectsWith(domain.changePassword(userId, { current_password: NEW, new_password: 'short' }, { ip: '10.4.0.6' }), Status.INVALID_ARGUMENT, 'new_password');
    await rejectsWith(domain.changePassword(userId, { current_password: NEW }, { ip: '10.4.0.6' }), Status.INVALID_ARGUMENT, 'new_password');
    await rejectsWith(domain.changePassword(userId, { new_password: 'long enough password' }, { ip: '10.4.0.6' }), Status.INVALID_ARGUMENT, 'current_password');
    await rejectsWith(domain.changePassword(999_999, { current_password: NEW, new_password: 'long enough password' }, { ip: '10.4.0.6' }), Status.NOT_FOUND);
  });

  test('the new password must differ from the current one, which is said only to a caller who gave the current one', async () => {
    const same = await rejectsWith(domain.changePassword(userId, { current_password: NEW, new_password: NEW }, { ip: '10.4.0.9' }), Status.INVALID_ARGUMENT, 'new_password');
    assert.equal(same.message, 'new_password: must differ from the current password');
    // A guess sent as both: the answer is that the current password does not match, so
    // it never confirms a guess.
    const guess = await rejectsWith(domain.changePassword(userId, { current_password: 'a guess at it', new_password: 'a guess at it' }, { ip: '10.4.0.9' }), Status.INVALID_ARGUMENT, 'current_password');
    assert.equal(guess.message, 'current_password: does not match');
    assert.ok((await login(NEW)).access_token, 'the password is still the one it was');
  });

  test('two changes from the same current password: the second is ABORTED and the first one stands', async () => {
    const [a, b] = await Promise.allSettled([
      domain.changePassword(userId, { current_password: NEW, new_password: 'first new password' }, { ip: '10.4.0.7' }),
      domain.changePassword(userId, { current_password: NEW, new_password: 'second new password' }, { ip: '10.4.0.8' }),
    ]);
    const outcomes = [a, b].map((r) => (r.status === 'fulfilled' ? 'ok' : (r.reason as AppError).code));
    assert.deepEqual(outcomes.sort(), ['ok', Status.ABORTED].sort(), JSON.stringify(outcomes));
    const winner = a.status === 'fulfilled' ? 'first new password' : 'second new password';
    assert.ok((await login(winner)).access_token);
  });
});

describe('a login racing a password change', () => {
  const OLD = 'the password before';
  /** A domain whose login writes wait for `release` once `holdLogins` is set; `heldLogin` resolves when one arrives. */
  function withHeldLogins() {
    const tt = openTestDb();
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let arrived!: () => void;
    const heldLogin = new Promise<void>((resolve) => (arrived = resolve));
    const gate = { holdLogins: false };
    const write: WriteFn = async (op, args) => {
      if (op.name === 'auth.login' && gate.holdLogins) {
        arrived();
        await released;
      }
      return tt.write(op, args);
    };
    const { domain: d } = newDomain(tt, new TestClock(), { write });
    return { tt, d, gate, heldLogin, release };
  }
  const liveRefreshTokens = (tt: TestDb, userId: number) =>
    tt.read.prepare('SELECT count(*) FROM refresh_tokens WHERE user_id = ? AND revoked = 0 AND used_at IS NULL').pluck().get(userId);

  for (const how of ['changes it', 'the registrar resets it'] as const) {
    test(`the old password checked before the user ${how} does not log in once the change is written`, async () => {
      const { tt, d, gate, heldLogin, release } = withHeldLogins();
      try {
        await d.ensureSigningKeys();
        const { user_id: userId } = await d.register({ username: 'quinn', email: 'quinn@example.edu', password: OLD });
        gate.holdLogins = true;
        const login = d.login({ username: 'quinn', password: OLD }, { ip: '10.4.1.1', method: 'login' });
        await heldLogin; // its password is checked; its write waits
        gate.holdLogins = false;
        if (how === 'changes it') await d.changePassword(userId, { current_password: OLD, new_password: 'the password after' }, { ip: '10.4.1.2' });
        else await d.resetPassword({ userId: 1, roles: ['registrar'] }, { user_id: userId }, { ip: '10.4.1.2' });
        const tokensAfterChange = liveRefreshTokens(tt, userId);
        release();
        await rejectsWith(login, Status.UNAUTHENTICATED);
        assert.equal(liveRefreshTokens(tt, userId), tokensAfterChange, 'the late login started no chain');
        const last = tt.read.prepare('SELECT outcome, method FROM auth_logs ORDER BY id DESC LIMIT 1').get();
        assert.deepEqual(last, { outcome: 'bad_credentials', method: 'login' }, 'audited as the wrong password it now is');
        assert.equal(tt.read.prepare('SELECT failures FROM login_failures WHERE username = ?').pluck().get('quinn'), 1, 'and counted as one');
      } finally {
        tt.close();
      }
    });
  }
});

describe('profile and directory', () => {
  test('me() of an unknown user is NOT_FOUND', () => {
    assert.throws(() => domain.me(999_999), { code: Status.NOT_FOUND });
  });

  test('listUsersAfter pages in id order with only what the enrollment service mirrors', () => {
    const all = domain.listUsersAfter(0, 0);
    assert.ok(all.length >= 5);
    for (const u of all) assert.deepEqual(Object.keys(u).sort(), ['first_name', 'last_name', 'roles', 'user_id', 'username']);
    assert.deepEqual(all.map((u) => u.user_id), [...all.map((u) => u.user_id)].sort((a, b) => a - b));
    const page = domain.listUsersAfter(all[1]!.user_id, 2);
    assert.deepEqual(page.map((u) => u.user_id), [all[2]!.user_id, all[3]!.user_id]);
    assert.ok(!JSON.stringify(all).includes('$argon2'));
    assert.throws(() => domain.listUsersAfter(-1, 10), { code: Status.INVALID_ARGUMENT, field: 'after_id' });
  });
});

describe('role changes', () => {
  const REGISTRAR = { userId: 1, roles: ['registrar'] };

  test('the registrar replaces a user\'s roles; each change is numbered for the directory; the next refresh carries them', async () => {
    const { user_id: id } = await domain.register({ username: 'rolf', email: 'rolf@example.edu', password: 'rolf password' });
    const login = await domain.login({ username: 'rolf', password: 'rolf password' }, { ip: '10.4.0.1', method: 'login' });
    const seqBefore = domain.userChangesAfter(0, 1000).at(-1)?.seq ?? 0;

    const changed = await domain.setUserRoles(REGISTRAR, { user_id: id, roles: ['instructor', 'student'] });
    assert.deepEqual(changed.roles, ['student', 'instructor']);
    assert.deepEqual(domain.me(id).roles, ['student', 'instructor']);
    await domain.setUserRoles(REGISTRAR, { user_id: id, roles: ['instructor'] });
    const changes = domain.userChangesAfter(seqBefore, 0);
    assert.deepEqual(changes.map((c) => [c.user.user_id, c.user.roles]), [[id, ['instructor']], [id, ['instructor']]], 'each with the roles as they are now');
    assert.ok(changes[1]!.seq > changes[0]!.seq);
    assert.deepEqual(domain.userChangesAfter(changes[1]!.seq, 0), []);

    const refreshed = await domain.refresh({ refresh_token: login.refresh_token }, { ip: '10.4.0.1' });
    assert.deepEqual((await domain.verifyAccessToken(refreshed.access_token)).roles, ['instructor']);
  });

  test('refused: no registrar, no roles, unknown roles or user, and a registrar dropping their own', async () => {
    const { user_id: id } = await domain.register({ username: 'rhea', email: 'rhea@example.edu', password: 'rhea password' });
    const count = () => domain.userChangesAfter(0, 1000).length;
    const before = count();
    await rejectsWith(domain.setUserRoles({ userId: id, roles: ['instructor'] }, { user_id: id, roles: ['registrar'] }), Status.PERMISSION_DENIED);
    await rejectsWith(domain.setUserRoles(REGISTRAR, { user_id: id, roles: [] }), Status.INVALID_ARGUMENT, 'roles');
    await rejectsWith(domain.setUserRoles(REGISTRAR, { user_id: id, roles: ['dean'] }), Status.INVALID_ARGUMENT, 'roles');
    await rejectsWith(domain.setUserRoles(REGISTRAR, { user_id: 0, roles: ['student'] }), Status.INVALID_ARGUMENT, 'user_id');
    await rejectsWith(domain.setUserRoles(REGISTRAR, { user_id: 999_999, roles: ['student'] }), Status.NOT_FOUND);
    await rejectsWith(domain.setUserRoles({ userId: id, roles: ['registrar'] }, { user_id: id, roles: ['instructor'] }), Status.FAILED_PRECONDITION);
    assert.equal(count(), before, 'nothing recorded');
    assert.deepEqual(domain.me(id).roles, ['student']);
    // Keeping registrar among others is allowed.
    assert.deepEqual((await domain.setUserRoles({ userId: id, roles: ['registrar'] }, { user_id: id, roles: ['registrar', 'instructor'] })).roles, ['instructor', 'registrar']);
  });
});

describe('profile changes', () => {
  test('a user changes their names and email; only the fields present change; each change is numbered for the directory', async () => {
    const { user_id: id } = await domain.register({ username: 'pia', email: 'pia@example.edu', first_name: 'Pia', last_name: 'Old', password: 'pia password' });
    const seqBefore = domain.userChangesAfter(0, 1000).at(-1)?.seq ?? 0;
    const changed = await domain.updateMe(id, { last_name: 'New' });
    assert.deepEqual([changed.first_name, changed.last_name, changed.email], ['Pia', 'New', 'pia@example.edu']);
    await domain.updateMe(id, { email: 'pia.new@example.edu', first_name: '' });
    assert.deepEqual([domain.me(id).first_name, domain.me(id).email], ['', 'pia.new@example.edu']);
    const changes = domain.userChangesAfter(seqBefore, 0);
    assert.deepEqual(changes.map((c) => [c.user.user_id, c.user.first_name, c.user.last_name]), [[id, '', 'New'], [id, '', 'New']]);
    assert.ok(!JSON.stringify(changes).includes('@'), 'the directory carries no email');
  });

  test('two changes at once to different fields both stand', async () => {
    // Through group commit, as on the primary: both requests are read before either is written.
    const tt = openTestDb();
    try {
      const batch = createWriter(tt.writer as WritableDb, { mode: 'batch', position: () => 0n });
      const { domain: d } = newDomain(tt, new TestClock(), { write: (op, args) => batch.run(op, args).then((r) => r.value) });
      const { user_id: id } = await d.register({ username: 'remy', email: 'remy@example.edu', first_name: 'Remy', last_name: 'Old', password: 'remy password' });
      const [names, email] = await Promise.all([
        d.updateMe(id, { first_name: 'Rémy', last_name: 'New' }),
        d.updateMe(id, { email: 'remy.new@example.edu' }),
      ]);
      const me = d.me(id);
      assert.deepEqual([me.first_name, me.last_name, me.email], ['Rémy', 'New', 'remy.new@example.edu']);
      assert.deepEqual([names.first_name, names.email], ['Rémy', 'remy@example.edu'], 'each answer is the row as its write left it');
      assert.deepEqual([email.first_name, email.email], ['Rémy', 'remy.new@example.edu']);
    } finally {
      tt.close();
    }
  });

  test('refused: a bad field, or an email another user has; nothing changes', async () => {
    const { user_id: id } = await domain.register({ username: 'quin', email: 'quin@example.edu', password: 'quin password' });
    const count = domain.userChangesAfter(0, 1000).length;
    await rejectsWith(domain.updateMe(id, { email: 'not-an-email' }), Status.INVALID_ARGUMENT, 'email');
    await rejectsWith(domain.updateMe(id, { first_name: 'x'.repeat(101) }), Status.INVALID_ARGUMENT, 'first_name');
    await rejectsWith(domain.updateMe(id, { email: 'LENA@example.edu' }), Status.ALREADY_EXISTS);
    await rejectsWith(domain.updateMe(999_999, { first_name: 'Ghost' }), Status.NOT_FOUND);
    assert.equal(domain.userChangesAfter(0, 1000).length, count);
    assert.equal(domain.me(id).email, 'quin@example.edu');
  });
});

describe('the signing-key status the metrics show', () => {
  test('how long the signing key has left and how many keys are published, as the schedule moves', async () => {
    const own = openTestDb();
    try {
      const c = new TestClock();
      const { domain: d } = newDomain(own, c);
      assert.deepEqual(d.keyStatus(), { signsForS: undefined, published: 0 }, 'no key yet: nothing signs');
      await d.ensureSigningKeys();
      const first = d.keyStatus();
      assert.equal(first.signsForS, 24 * 3600, 'a new key signs for a day (the default rotation)');
      c.advance(3600);
      assert.equal(d.keyStatus().signsForS, 23 * 3600);
      // The publish lead (15 minutes) before its end, the successor is published too.
      c.advance(23 * 3600 - 15 * 60);
      await d.ensureSigningKeys();
      const late = d.keyStatus();
      assert.equal(late.signsForS, 15 * 60);
      assert.equal(late.published, first.published + 1, `the successor is in the JWKS (${JSON.stringify(late)})`);
      // At its end the successor signs, for a day from then.
      c.advance(15 * 60);
      assert.equal(d.keyStatus().signsForS, 24 * 3600);
    } finally {
      own.close();
    }
  });
});

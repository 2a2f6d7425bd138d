import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Status } from '../../../lib/errors.js';
import { encodeToken } from '../../../lib/pagination.js';
import type { ListAuthLogsRequest } from '../../../gen/ts/auth/v1/ListAuthLogsRequest.js';
import { createAuthStore } from '../store/auth-store.js';
import type { AuthDomain, Caller } from './index.js';
import { TestClock, newDomain, openTestDb } from './testkit.js';
import type { TestDb } from './testkit.js';

let t: TestDb;
let clock: TestClock;
let domain: AuthDomain;
let ana: number;
const REGISTRAR: Caller = { userId: 1, roles: ['registrar'] };

const list = (req: ListAuthLogsRequest, caller: Caller = REGISTRAR) => domain.listAuthLogs(caller, req);
const shape = (req: ListAuthLogsRequest) =>
  list(req).entries.map((e) => `${e.method}:${e.outcome}:${e.username}:${e.user_id === ana ? 'ana' : e.user_id}`);

before(async () => {
  t = openTestDb();
  clock = new TestClock();
  ({ domain } = newDomain(t, clock));
  await domain.ensureSigningKeys();
  ({ user_id: ana } = await domain.register({ username: 'ana', email: 'ana@example.edu', password: 'ana-password' }));
  // One of each: a login, a wrong password by POST /auth, an unknown name, a refresh, a logout.
  const login = await domain.login({ username: 'ana', password: 'ana-password' }, { ip: '10.0.0.1', method: 'login' });
  clock.advance(1);
  await assert.rejects(domain.login({ username: 'ANA', password: 'wrong password' }, { ip: '10.0.0.2', method: 'auth' }));
  clock.advance(1);
  await assert.rejects(domain.login({ username: 'Ghost', password: 'whatever it is' }, { ip: '10.0.0.3', method: 'login' }));
  clock.advance(1);
  const refreshed = await domain.refresh({ refresh_token: login.refresh_token }, { ip: '10.0.0.4' });
  clock.advance(1);
  await domain.logout({ refresh_token: refreshed.refresh_token }, { ip: '10.0.0.5' });
});
after(() => t.close());

describe('the audit log', () => {
  test('newest first, each request once, with its address and an RFC 3339 time', () => {
    const { entries, next_page_token } = list({});
    assert.equal(next_page_token, '');
    assert.deepEqual(shape({}), [
      'logout:logout:ana:ana',
      'token:refresh_ok:ana:ana',
      'login:bad_credentials:Ghost:0',
      'auth:bad_credentials:ANA:ana',
      'login:ok:ana:ana',
    ]);
    assert.deepEqual(entries.map((e) => e.request_ip), ['10.0.0.5', '10.0.0.4', '10.0.0.3', '10.0.0.2', '10.0.0.1']);
    assert.deepEqual(entries.at(-1)!.request_timestamp, '2025-01-06T09:00:00Z');
    assert.deepEqual(entries[0]!.request_timestamp, '2025-01-06T09:00:04Z');
    assert.ok(entries.every((e, i) => i === 0 || e.id < entries[i - 1]!.id));
  });

  test('filters: user, username case-insensitively, outcome, method, and all of them together', () => {
    const anas = ['logout:logout:ana:ana', 'token:refresh_ok:ana:ana', 'auth:bad_credentials:ANA:ana', 'login:ok:ana:ana'];
    assert.deepEqual(shape({ user_id: ana }), anas);
    assert.deepEqual(shape({ username: 'ana' }), anas);
    assert.deepEqual(shape({ username: 'ghost' }), ['login:bad_credentials:Ghost:0']);
    assert.deepEqual(shape({ outcome: 'bad_credentials' }), ['login:bad_credentials:Ghost:0', 'auth:bad_credentials:ANA:ana']);
    assert.deepEqual(shape({ method: 'token' }), ['token:refresh_ok:ana:ana']);
    assert.deepEqual(shape({ user_id: ana, outcome: 'bad_credentials', method: 'auth', username: 'Ana' }), ['auth:bad_credentials:ANA:ana']);
    assert.deepEqual(shape({ user_id: ana, method: 'password' }), []);
    assert.deepEqual(shape({ user_id: 999 }), []);
  });

  test("anyone else reads only their own entries, failed guesses at their username included; another's is refused", () => {
    const ids = (req: ListAuthLogsRequest, caller: Caller) => list(req, caller).entries.map((e) => e.id);
    const anas = list({ user_id: ana }).entries.map((e) => e.id);
    assert.equal(anas.length, 4);
    for (const roles of [['student'], ['instructor'], []]) {
      const self: Caller = { userId: ana, roles };
      assert.deepEqual(ids({}, self), anas);
      assert.deepEqual(ids({ user_id: ana }, self), anas);
      assert.deepEqual(ids({ outcome: 'bad_credentials' }, self), [anas[2]]);
      assert.deepEqual(ids({ username: 'ghost' }, self), [], "an unknown name's entries are nobody's");
      assert.throws(() => list({ user_id: ana + 1 }, self), { code: Status.PERMISSION_DENIED });
      assert.deepEqual(ids({}, { userId: 999, roles }), [], "another user sees none of ana's");
    }
  });

  test('bad filters and page tokens are INVALID_ARGUMENT naming the field', () => {
    const cases: [ListAuthLogsRequest, string][] = [
      [{ user_id: -1 }, 'user_id'],
      [{ outcome: 'success' }, 'outcome'],
      [{ outcome: 'OK' }, 'outcome'],
      [{ method: 'register' }, 'method'],
      [{ username: 'x'.repeat(257) }, 'username'],
      [{ page_size: -5 }, 'page_size'],
      [{ page_token: 'not a token' }, 'page_token'],
      // A token of another listing (the enrollment service's departments) is refused too.
      [{ page_token: encodeToken('dept', [3]) }, 'page_token'],
    ];
    for (const [req, field] of cases) assert.throws(() => list(req), { code: Status.INVALID_ARGUMENT, field }, JSON.stringify(req));
  });

  test('pages walk every entry once, even while new ones are written', () => {
    const store = createAuthStore(t.writer);
    const add = (i: number) =>
      store.insertAuthLog({
        request_ip: `10.9.${i >> 8}.${i & 255}`,
        request_timestamp: '2025-01-07 10:00:00',
        user_id: i % 2 === 0 ? ana : null,
        outcome: i % 3 === 0 ? 'ok' : 'bad_credentials',
        method: 'login',
        username: `bulk${i}`,
      });
    for (let i = 0; i < 120; i++) add(i);
    const total = list({ page_size: 500 }).entries.length;
    assert.equal(total, 125);

    const seen: number[] = [];
    let token = '';
    let pages = 0;
    do {
      const page = list({ page_size: 50, page_token: token });
      seen.push(...page.entries.map((e) => e.id));
      token = page.next_page_token;
      pages++;
      add(1001 + 2 * pages); // newer than every page, so never shown by this walk (odd: no user)
    } while (token !== '');
    assert.equal(pages, 3);
    assert.equal(seen.length, total);
    assert.equal(new Set(seen).size, total);
    assert.deepEqual(seen, [...seen].sort((a, b) => b - a));

    // With a filter, the pages hold only matching entries.
    const filtered: string[] = [];
    token = '';
    do {
      const page = list({ page_size: 7, page_token: token, user_id: ana, outcome: 'ok', method: 'login' });
      filtered.push(...page.entries.map((e) => e.username));
      token = page.next_page_token;
    } while (token !== '');
    const expected = Array.from({ length: 120 }, (_, i) => i)
      .filter((i) => i % 6 === 0)
      .map((i) => `bulk${i}`)
      .reverse();
    assert.deepEqual(filtered, [...expected, 'ana']);
  });

  test('a search by username is served by its index', () => {
    const plan = t.read
      .prepare('EXPLAIN QUERY PLAN SELECT id FROM auth_logs WHERE username = ? COLLATE NOCASE ORDER BY id DESC LIMIT 50')
      .all('ana') as { detail: string }[];
    assert.ok(plan.some((row) => row.detail.includes('auth_logs_username')), JSON.stringify(plan));
  });
});

/**
 * The auth service end to end on the real cluster: three LiteFS nodes, the
 * real services, Envoy in front, started the way `npm start` starts them.
 * HTTP/JSON clients and native gRPC clients, through Envoy.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createPublicKey, createHmac, generateKeyPairSync } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { SignJWT, decodeJwt, decodeProtectedHeader } from 'jose';
import { Status } from '../../lib/errors.js';
import { loadPrivateKey } from '../../services/auth/domain/keys.js';
import { authThreadPoolSize } from '../../services/node/env.js';
import { useCluster } from '../harness/cluster.js';
import { ENVOY_GRPC, authClient, call, directoryClient, http, httpRaw, txidOf, uniqueName } from '../support/clients.js';
import { healthStatus } from '../../lib/grpc/health-client.js';
import { protoHttpRoutes, routeShape } from '../support/proto-routes.js';
import { loginHttp, manyStudents, person, type Person } from '../support/school.js';

const ISSUER = 'course-registration-auth';

/** Lists a server's services through gRPC server reflection (a child process keeps the client simple). */
const REFLECTION_LIST = `
const grpc = require('@grpc/grpc-js');
const loader = require('@grpc/proto-loader');
const path = require.resolve('@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto');
const pkg = grpc.loadPackageDefinition(loader.loadSync(path, { keepCase: true }));
const client = new pkg.grpc.reflection.v1.ServerReflection(process.argv[1], grpc.credentials.createInsecure());
const call = client.ServerReflectionInfo();
call.on('data', (m) => { console.log(m.list_services_response.service.map((s) => s.name).join(' ')); call.end(); client.close(); });
call.on('error', (e) => { console.error(e.message); process.exit(1); });
call.write({ list_services: '' });
`;
const AUDIENCE = 'course-registration';

describe('the auth service on the real cluster', () => {
  const env = useCluster();

  async function registerAndLogin(prefix: string): Promise<{ username: string; password: string; userId: number; token: string; refresh: string }> {
    const username = uniqueName(prefix);
    const password = 'correct horse battery';
    const reg = await http('POST', '/register', { body: { username, email: `${username}@example.edu`, password } });
    assert.equal(reg.status, 200, reg.text);
    const login = await http('POST', '/login', { body: { username, password } });
    assert.equal(login.status, 200, login.text);
    return { username, password, userId: reg.body.user_id, token: login.body.access_token, refresh: login.body.refresh_token };
  }

  function base64url(value: object | string): string {
    return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
  }

  describe('auth over HTTP/JSON through Envoy', () => {
    test('register, login, and a protected call with the token', async () => {
      const username = uniqueName('http');
      const reg = await http('POST', '/register', { body: { username, email: `${username}@example.edu`, first_name: 'Ada', last_name: 'Lovelace' } });
      assert.equal(reg.status, 200, reg.text);
      assert.deepEqual(reg.body.roles, ['student']);
      assert.match(reg.body.password, /^[0-9a-f-]{36}$/, 'a generated UUIDv4 password is returned once');

      const login = await http('POST', '/login', { body: { username, password: reg.body.password } });
      assert.equal(login.status, 200, login.text);
      assert.equal(login.body.token_type, 'Bearer');
      assert.ok(login.body.refresh_token);
      const header = decodeProtectedHeader(login.body.access_token);
      const claims = decodeJwt(login.body.access_token);
      assert.equal(header.alg, 'RS256');
      assert.ok(header.kid);
      assert.equal(claims.sub, String(reg.body.user_id));
      assert.equal(claims.username, username);
      assert.deepEqual(claims.roles, ['student']);
      assert.equal(claims.iss, ISSUER);
      assert.equal(claims.aud, AUDIENCE);
      assert.ok(claims.jti && claims.iat && claims.exp && claims.exp > claims.iat);

      const me = await http('GET', '/me', { token: login.body.access_token });
      assert.equal(me.status, 200, me.text);
      assert.equal(me.body.username, username);
      assert.equal(me.body.first_name, 'Ada');
      assert.equal(me.body.email, `${username}@example.edu`);
      assert.notEqual(me.body.last_login, '', 'last_login is recorded');
      assert.notEqual(me.body.date_registered, '');
    });

    test('wrong username and wrong password are the same 401', async () => {
      const u = await registerAndLogin('pw');
      const wrongPassword = await http('POST', '/login', { body: { username: u.username, password: 'not the password' } });
      const wrongUser = await http('POST', '/login', { body: { username: uniqueName('ghost'), password: 'not the password' } });
      assert.equal(wrongPassword.status, 401);
      assert.equal(wrongUser.status, 401);
      assert.equal(wrongPassword.body.message, wrongUser.body.message);
    });

    test('refresh tokens rotate, and reuse is refused', async () => {
      const u = await registerAndLogin('refresh');
      const next = await http('POST', '/token', { body: { refresh_token: u.refresh } });
      assert.equal(next.status, 200, next.text);
      assert.notEqual(next.body.refresh_token, u.refresh);
      const reuse = await http('POST', '/token', { body: { refresh_token: u.refresh } });
      assert.equal(reuse.status, 401);
      const chainRevoked = await http('POST', '/token', { body: { refresh_token: next.body.refresh_token } });
      assert.equal(chainRevoked.status, 401, 'reuse revokes the whole chain');
    });

    test("logout revokes the login's refresh chain; any token is answered 200, and each call is audited", async () => {
      const u = await registerAndLogin('logout');
      const next = await http('POST', '/token', { body: { refresh_token: u.refresh } });
      assert.equal(next.status, 200, next.text);
      const out = await http('POST', '/logout', { body: { refresh_token: next.body.refresh_token } });
      assert.equal(out.status, 200, out.text);
      assert.deepEqual(out.body, {});
      assert.equal((await http('POST', '/token', { body: { refresh_token: next.body.refresh_token } })).status, 401, 'the refresh token is dead');
      assert.equal((await http('GET', '/me', { token: next.body.access_token })).status, 200, 'an access token already issued lives until it expires');
      assert.equal((await http('POST', '/logout', { body: { refresh_token: next.body.refresh_token } })).status, 200, 'again: still 200');
      assert.equal((await http('POST', '/logout', { body: { refresh_token: 'z'.repeat(43) } })).status, 200, 'an unknown token: 200, nothing told');
      const empty = await http('POST', '/logout', { body: {} });
      assert.equal(empty.status, 400, empty.text);
      assert.match(empty.body.message, /refresh_token/);
      assert.equal((await http('GET', '/logout')).status, 405);

      const db = new Database(join(env.cluster.node(1).mount, 'auth.db'), { readonly: true, fileMustExist: true });
      try {
        const rows = db.prepare("SELECT outcome FROM auth_logs WHERE method = 'logout' AND user_id = ? ORDER BY id").pluck().all(u.userId);
        assert.deepEqual(rows, ['logout', 'logout'], 'both logouts of that chain are audited with the user');
      } finally {
        db.close();
      }
    });

    test('a user changes their password with the current one; other logins lose their refresh tokens', async () => {
      const u = await registerAndLogin('passwd');
      const fresh = 'an entirely new password';
      const noToken = await http('POST', '/me/password', { body: { current_password: u.password, new_password: fresh } });
      assert.equal(noToken.status, 401, 'a token is needed');
      const wrong = await http('POST', '/me/password', { token: u.token, body: { current_password: 'not my password', new_password: fresh } });
      assert.equal(wrong.status, 400, wrong.text);
      assert.match(wrong.body.message, /current_password/);
      const weak = await http('POST', '/me/password', { token: u.token, body: { current_password: u.password, new_password: 'short' } });
      assert.equal(weak.status, 400, weak.text);
      assert.match(weak.body.message, /new_password/);

      const changed = await http('POST', '/me/password', { token: u.token, body: { current_password: u.password, new_password: fresh } });
      assert.equal(changed.status, 200, changed.text);
      assert.equal((await http('GET', '/me', { token: changed.body.access_token })).body.user_id, u.userId, 'the answer is a new pair');
      assert.equal((await http('POST', '/login', { body: { username: u.username, password: u.password } })).status, 401, 'the old password is gone');
      assert.equal((await http('POST', '/login', { body: { username: u.username, password: fresh } })).status, 200);
      assert.equal((await http('POST', '/token', { body: { refresh_token: u.refresh } })).status, 401, "the earlier login's refresh token is revoked");
      assert.equal((await http('POST', '/token', { body: { refresh_token: changed.body.refresh_token } })).status, 200);
      assert.equal((await http('GET', '/me/password', { token: changed.body.access_token })).status, 405);
    });

    test('POST /auth answers with a token field; ?expired gives a past exp signed by a key not in the JWKS', async () => {
      const u = await registerAndLogin('auth');
      const ok = await http('POST', '/auth', { body: { username: u.username, password: u.password } });
      assert.equal(ok.status, 200, ok.text);
      assert.equal(ok.body.token, ok.body.access_token);

      const expired = await http('POST', '/auth?expired=true', { body: { username: u.username, password: u.password } });
      assert.equal(expired.status, 200, expired.text);
      const claims = decodeJwt(expired.body.token);
      assert.ok(claims.exp! < Date.now() / 1000, 'exp is in the past');
      const jwks = await http('GET', '/.well-known/jwks.json');
      const kids = jwks.body.keys.map((k: { kid: string }) => k.kid);
      assert.ok(!kids.includes(decodeProtectedHeader(expired.body.token).kid), 'the expired key is not published');

      const bare = await http('POST', '/auth?expired', { body: { username: u.username, password: u.password } });
      assert.equal(bare.status, 200, bare.text);
      assert.ok(decodeJwt(bare.body.token).exp! < Date.now() / 1000, 'a bare ?expired counts too');
      const no = await http('POST', '/auth?expired=false', { body: { username: u.username, password: u.password } });
      assert.equal(no.status, 200, no.text);
      assert.ok(decodeJwt(no.body.token).exp! > Date.now() / 1000, '?expired=false asks for a valid token');

      const rejected = await http('GET', '/me', { token: expired.body.token });
      assert.equal(rejected.status, 401, 'Envoy refuses the expired token');
    });

    test('the JWKS lists RS256 public keys with a cache lifetime, and no private parts', async () => {
      const jwks = await http('GET', '/.well-known/jwks.json');
      assert.equal(jwks.status, 200);
      assert.match(jwks.headers.get('cache-control') ?? '', /max-age=\d+/);
      assert.ok(jwks.body.keys.length >= 1);
      for (const key of jwks.body.keys) {
        assert.equal(key.kty, 'RSA');
        assert.equal(key.alg, 'RS256');
        assert.ok(key.n && key.e && key.kid);
        assert.equal(key.d, undefined);
      }
    });

    test('every token request is in auth_logs with the client IP and the outcome; an address the client claims is not taken', async () => {
      const u = await registerAndLogin('audit');
      // The client is on loopback. What it claims in either header must not reach the log.
      const claims = { 'x-client-address': '203.0.113.66', 'x-forwarded-for': '203.0.113.77' };
      await http('POST', '/login', { body: { username: u.username, password: 'wrong password!' }, headers: claims });
      assert.equal((await http('POST', '/auth', { body: { username: u.username, password: u.password }, headers: claims })).status, 200);
      const expired = await http('POST', '/auth?expired=true', { body: { username: u.username, password: u.password } });
      assert.equal(expired.status, 200, expired.text);
      const overGrpc = await call(authClient(), 'Login', { username: u.username, password: u.password }, { metadata: claims });
      assert.equal(overGrpc.error, undefined, overGrpc.error?.details);
      // Read the primary's auth.db straight from its LiteFS mount (read-only).
      const db = new Database(join(env.cluster.node(1).mount, 'auth.db'), { readonly: true, fileMustExist: true });
      try {
        const rows = db
          .prepare('SELECT request_ip, user_id, outcome FROM auth_logs WHERE user_id = ? ORDER BY id')
          .all(u.userId) as Array<{ request_ip: string; user_id: number; outcome: string }>;
        assert.deepEqual(rows.map((r) => r.outcome), ['ok', 'bad_credentials', 'ok', 'expired_key', 'ok']);
        // Envoy names its TCP peer in x-client-address, over whatever the client sent.
        assert.deepEqual(rows.map((r) => r.request_ip), ['127.0.0.1', '127.0.0.1', '127.0.0.1', '127.0.0.1', '127.0.0.1']);
      } finally {
        db.close();
      }
    });

    test('the registrar reads the audit log, newest first and filtered, over HTTP/JSON and gRPC; a student only their own entries', async () => {
      const u = await registerAndLogin('audited');
      assert.equal((await http('POST', '/login', { body: { username: u.username.toUpperCase(), password: 'wrong password!' } })).status, 401);
      const ghost = uniqueName('ghost');
      assert.equal((await http('POST', '/login', { body: { username: ghost, password: 'wrong password!' } })).status, 401);
      const registrar = (await http('POST', '/login', { body: env.cluster.registrar })).body.access_token as string;

      // Reads are served by the replicas: the registrar asks after other
      // people's writes (no x-min-txid to give), so wait for replication.
      const read = async (query: string, token = registrar, want = 1) => {
        for (let tries = 0; ; tries++) {
          const res = await http('GET', `/auth-logs${query}`, { token });
          if (res.status !== 200 || res.body.entries.length >= want || tries === 50) return res;
          await sleep(100);
        }
      };
      const mine = await read(`?user_id=${u.userId}`, registrar, 2);
      assert.equal(mine.status, 200, mine.text);
      assert.deepEqual(
        mine.body.entries.map((e: { method: string; outcome: string; username: string; user_id: number }) => [e.method, e.outcome, e.username, e.user_id]),
        [
          ['login', 'bad_credentials', u.username.toUpperCase(), u.userId],
          ['login', 'ok', u.username, u.userId],
        ],
      );
      assert.match(mine.body.entries[0].request_timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      assert.ok(mine.body.entries[0].id > mine.body.entries[1].id);
      // An unknown username has no user: found by the name sent, any case.
      const byName = await read(`?username=${ghost.toUpperCase()}&outcome=bad_credentials`);
      assert.equal(byName.status, 200, byName.text);
      assert.deepEqual(byName.body.entries.map((e: { username: string; user_id: number }) => [e.username, e.user_id]), [[ghost, 0]]);
      // Pages: one entry each, the token leads to the next.
      const first = await read(`?user_id=${u.userId}&page_size=1`);
      assert.equal(first.body.entries.length, 1);
      const second = await read(`?user_id=${u.userId}&page_size=1&page_token=${first.body.next_page_token}`);
      assert.deepEqual(second.body.entries, [mine.body.entries[1]]);

      assert.equal((await http('GET', '/auth-logs?outcome=great', { token: registrar })).status, 400);
      assert.equal((await http('GET', '/auth-logs?page_token=garbage', { token: registrar })).status, 400);
      // A student reads their own entries (the wrong password sent for their name too), no one else's.
      const own = await http('GET', '/auth-logs', { token: u.token });
      assert.equal(own.status, 200, own.text);
      assert.deepEqual(own.body.entries, mine.body.entries);
      assert.equal((await http('GET', `/auth-logs?user_id=${u.userId + 1}`, { token: u.token })).status, 403);
      assert.equal((await http('GET', '/auth-logs')).status, 401);
      assert.equal((await http('POST', '/auth-logs', { token: registrar, body: {} })).status, 405);

      const client = authClient();
      try {
        const viaGrpc = await call(client, 'ListAuthLogs', { user_id: u.userId }, { token: registrar });
        assert.equal(viaGrpc.error, undefined, viaGrpc.error?.details);
        assert.deepEqual(viaGrpc.response.entries, mine.body.entries);
        const asStudent = await call(client, 'ListAuthLogs', { user_id: u.userId + 1 }, { token: u.token });
        assert.equal(asStudent.error?.code, Status.PERMISSION_DENIED);
      } finally {
        client.close();
      }
    });

    test('ten wrong passwords for a username make its logins 429 for the window, the right password included; others log in', async () => {
      const u = await registerAndLogin('guessed');
      const other = await registerAndLogin('bystander');
      for (let i = 0; i < 10; i++) {
        const wrong = await http('POST', i % 2 ? '/login' : '/auth', { body: { username: u.username, password: `guess number ${i}` } });
        assert.equal(wrong.status, 401, wrong.text);
      }
      for (const path of ['/login', '/auth']) {
        const refused = await http('POST', path, { body: { username: u.username, password: u.password } });
        assert.equal(refused.status, 429, refused.text);
        const seconds = /^too many failed logins for this username; try again in (\d+) s$/.exec(refused.body.message)?.[1];
        assert.ok(seconds !== undefined && Number(seconds) > 0, refused.body.message);
        assert.equal(refused.headers.get('retry-after'), seconds, 'Retry-After says the same wait as the message');
        assert.equal(refused.headers.get('x-ratelimit'), null, "the service's throttle, not Envoy's bucket");
      }
      // Over gRPC through Envoy, and on a replica's own port (forwarded to the primary):
      // RESOURCE_EXHAUSTED with the wait in its trailers.
      for (const address of [undefined, env.cluster.node(2).authGrpc]) {
        const client = authClient(address);
        try {
          const viaGrpc = await call(client, 'Login', { username: u.username, password: u.password });
          assert.equal(viaGrpc.error?.code, Status.RESOURCE_EXHAUSTED, address);
          assert.match(String(viaGrpc.error?.metadata.get('retry-after')[0]), /^[1-9]\d*$/, address);
        } finally {
          client.close();
        }
      }
      assert.equal((await http('POST', '/login', { body: { username: other.username, password: other.password } })).status, 200);
      // The refresh token of the earlier login still works: the throttle is on passwords only.
      assert.equal((await http('POST', '/token', { body: { refresh_token: u.refresh } })).status, 200);

      const registrar = (await http('POST', '/login', { body: env.cluster.registrar })).body.access_token as string;
      for (let tries = 0; ; tries++) {
        const log = await http('GET', `/auth-logs?username=${u.username}&outcome=throttled`, { token: registrar });
        assert.equal(log.status, 200, log.text);
        // Two over HTTP/JSON, two over gRPC (through Envoy, and forwarded from node2).
        if (log.body.entries.length === 4 || tries === 50) {
          assert.equal(log.body.entries.length, 4, 'each refused login is audited');
          break;
        }
        await sleep(100);
      }
    });

    test('the registrar resets a locked-out user: a new password, shown once, that works at once; old refresh tokens end', async () => {
      const u = await registerAndLogin('forgetful');
      for (let i = 0; i < 10; i++) assert.equal((await http('POST', '/login', { body: { username: u.username, password: `guess ${i}!!` } })).status, 401);
      assert.equal((await http('POST', '/login', { body: { username: u.username, password: u.password } })).status, 429);
      assert.equal((await http('POST', `/users/${u.userId}/password`, { token: u.token, body: {} })).status, 403, 'not for students');

      const registrar = (await http('POST', '/login', { body: env.cluster.registrar })).body.access_token as string;
      const reset = await http('POST', `/users/${u.userId}/password`, { token: registrar, body: {} });
      assert.equal(reset.status, 200, reset.text);
      assert.equal(reset.body.username, u.username);
      const login = await http('POST', '/login', { body: { username: u.username, password: reset.body.password } });
      assert.equal(login.status, 200, login.text);
      assert.equal((await http('POST', '/token', { body: { refresh_token: u.refresh } })).status, 401, 'the old login is over');
      assert.equal((await http('POST', '/users/999999/password', { token: registrar, body: {} })).status, 404);
      assert.equal((await http('GET', `/users/${u.userId}/password`, { token: registrar })).status, 405);
    });

    test('roles above student need a registrar token', async () => {
      const u = await registerAndLogin('climber');
      const name = uniqueName('inst');
      const asStudent = await http('POST', '/register', { token: u.token, body: { username: name, email: `${name}@example.edu`, roles: ['instructor'] } });
      assert.equal(asStudent.status, 403, asStudent.text);
      const anonymous = await http('POST', '/register', { body: { username: name, email: `${name}@example.edu`, roles: ['registrar'] } });
      assert.equal(anonymous.status, 403, anonymous.text);

      const registrar = await http('POST', '/login', { body: env.cluster.registrar });
      assert.equal(registrar.status, 200, registrar.text);
      const asRegistrar = await http('POST', '/register', { token: registrar.body.access_token, body: { username: name, email: `${name}@example.edu`, roles: ['instructor'] } });
      assert.equal(asRegistrar.status, 200, asRegistrar.text);
      assert.deepEqual(asRegistrar.body.roles, ['instructor']);
    });
  });

  describe('the roles Envoy and the service enforce on every auth route', () => {
    type Who = 'anonymous' | 'student' | 'instructor' | 'registrar';
    const WHO: Who[] = ['anonymous', 'student', 'instructor', 'registrar'];
    const SIGNED_IN: Who[] = ['student', 'instructor', 'registrar'];
    const people = {} as Record<Exclude<Who, 'anonymous'>, Person>;
    const tokenOf = (who: Who) => (who === 'anonymous' ? undefined : people[who].token);
    /** A student for the registrar-only routes to act on. */
    const target = async () => (await person('student', people.registrar.token, 'target')).id;

    const routes: Array<{ name: string; allowed: Who[]; request: (who: Who) => Promise<[string, string, unknown?]> | [string, string, unknown?] }> = [
      { name: 'POST /register', allowed: WHO, request: () => { const username = uniqueName('m'); return ['POST', '/register', { username, email: `${username}@example.edu` }]; } },
      { name: 'POST /login', allowed: WHO, request: () => ['POST', '/login', { username: people.student.username, password: people.student.password }] },
      { name: 'POST /auth', allowed: WHO, request: () => ['POST', '/auth', { username: people.student.username, password: people.student.password }] },
      {
        name: 'POST /token',
        allowed: WHO,
        request: async () => {
          const login = await http('POST', '/login', { body: { username: people.student.username, password: people.student.password } });
          return ['POST', '/token', { refresh_token: login.body.refresh_token }];
        },
      },
      { name: 'POST /logout', allowed: WHO, request: () => ['POST', '/logout', { refresh_token: 'not a token' }] },
      { name: 'GET /.well-known/jwks.json', allowed: WHO, request: () => ['GET', '/.well-known/jwks.json'] },
      { name: 'GET /me', allowed: SIGNED_IN, request: () => ['GET', '/me'] },
      { name: 'PATCH /me', allowed: SIGNED_IN, request: () => ['PATCH', '/me', { first_name: 'Matrix' }] },
      {
        name: 'POST /me/password',
        allowed: SIGNED_IN,
        request: (who) => {
          if (who === 'anonymous') return ['POST', '/me/password', { current_password: 'x', new_password: 'a long new password' }];
          // The person keeps their new password for the routes after this one.
          const next = `${people[who].password}!`;
          const body = { current_password: people[who].password, new_password: next };
          people[who].password = next;
          return ['POST', '/me/password', body];
        },
      },
      { name: 'GET /auth-logs', allowed: SIGNED_IN, request: () => ['GET', '/auth-logs?page_size=1'] },
      { name: 'PUT /users/{id}/roles', allowed: ['registrar'], request: async () => ['PUT', `/users/${await target()}/roles`, { roles: ['student', 'instructor'] }] },
      { name: 'POST /users/{id}/password', allowed: ['registrar'], request: async () => ['POST', `/users/${await target()}/password`, {}] },
    ];

    test('covers every HTTP route of auth.proto', () => {
      const declared = protoHttpRoutes('auth/v1/auth.proto');
      assert.ok(declared.length >= 12, `only ${declared.length} routes found in the proto`);
      assert.deepEqual(routes.map((r) => routeShape(r.name)).sort(), declared.sort());
    });

    for (const route of routes) {
      test(route.name, async () => {
        if (!people.registrar) {
          // A registrar of its own: the cluster's first one keeps its password for the other tests.
          const first = await loginHttp(env.cluster.registrar);
          const username = uniqueName('mregistrar');
          const password = 'a registrar password';
          const reg = await http('POST', '/register', { token: first, body: { username, email: `${username}@example.edu`, password, roles: ['registrar'] } });
          assert.equal(reg.status, 200, reg.text);
          people.registrar = { id: reg.body.user_id, username, password, token: await loginHttp({ username, password }) };
          people.student = await person('student', first, 'mstudent');
          people.instructor = await person('instructor', first, 'minstructor');
        }
        for (const who of WHO) {
          const [method, path, body] = await route.request(who);
          const res = await http(method, path, { token: tokenOf(who), body });
          if (route.allowed.includes(who)) assert.equal(res.status, 200, `${who} may ${route.name}: ${res.text}`);
          else assert.equal(res.status, who === 'anonymous' ? 401 : 403, `${who} may not ${route.name}: ${res.status} ${res.text}`);
        }
      });
    }
  });

  describe('auth over native gRPC through Envoy', () => {
    test('register, login and Me', async () => {
      const client = authClient();
      try {
        const username = uniqueName('grpc');
        const reg = await call(client, 'Register', { username, email: `${username}@example.edu`, password: 'a long enough password' });
        assert.equal(reg.error, undefined, reg.error?.details);
        const login = await call(client, 'Login', { username, password: 'a long enough password' });
        assert.equal(login.error, undefined, login.error?.details);
        const me = await call(client, 'Me', {}, { token: login.response.access_token });
        assert.equal(me.error, undefined, me.error?.details);
        assert.equal(me.response.username, username);

        const noToken = await call(client, 'Me', {});
        assert.equal(noToken.error?.code, Status.UNAUTHENTICATED);
        assert.doesNotMatch(noToken.error!.details, /^\{/, 'gRPC callers get a plain grpc-message');
        const dup = await call(client, 'Register', { username, email: `other-${username}@example.edu` });
        assert.equal(dup.error?.code, Status.ALREADY_EXISTS);
        const bad = await call(client, 'Register', { username: 'x', email: 'nope' });
        assert.equal(bad.error?.code, Status.INVALID_ARGUMENT);
      } finally {
        client.close();
      }
    });
  });

  describe('Envoy refuses bad tokens before they reach a service', () => {
    test('missing, malformed, forged, alg:none, HS256-with-the-public-key, wrong issuer and wrong audience', async () => {
      const u = await registerAndLogin('victim');
      const realKid = decodeProtectedHeader(u.token).kid!;
      const claims = decodeJwt(u.token);
      const jwks = await http('GET', '/.well-known/jwks.json');
      const published = jwks.body.keys.find((k: { kid: string }) => k.kid === realKid);
      assert.ok(published, 'the signing key is published');

      const attacker = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const forged = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: realKid, typ: 'JWT' }).sign(attacker.privateKey);
      const none = `${base64url({ alg: 'none', typ: 'JWT', kid: realKid })}.${base64url(claims)}.`;
      const publicPem = createPublicKey({ key: published, format: 'jwk' }).export({ type: 'spki', format: 'pem' }) as string;
      const hsInput = `${base64url({ alg: 'HS256', typ: 'JWT', kid: realKid })}.${base64url(claims)}`;
      const hs256 = `${hsInput}.${createHmac('sha256', publicPem).update(hsInput).digest('base64url')}`;

      // Tokens signed with the real key but naming another issuer or audience.
      const node1 = env.cluster.node(1);
      const kek = Buffer.from(readFileSync(join(env.cluster.dir, 'secrets/kek.hex'), 'utf8').trim(), 'hex');
      const db = new Database(join(node1.mount, 'auth.db'), { readonly: true, fileMustExist: true });
      const row = db.prepare('SELECT key FROM keys WHERE key_id = ?').get(realKid) as { key: Buffer };
      db.close();
      const realKey = loadPrivateKey(row.key, kek, realKid);
      const sign = (overrides: Record<string, unknown>) =>
        new SignJWT({ ...claims, ...overrides }).setProtectedHeader({ alg: 'RS256', kid: realKid, typ: 'JWT' }).sign(realKey);
      const wrongIssuer = await sign({ iss: 'someone-else' });
      const wrongAudience = await sign({ aud: 'another-app' });
      const control = await sign({});

      assert.equal((await http('GET', '/me', { token: control })).status, 200, 'the control token, signed the same way, passes');
      for (const [name, token] of Object.entries({ forged, none, hs256, wrongIssuer, garbage: 'not-a-jwt' })) {
        const res = await http('GET', '/me', { token });
        assert.equal(res.status, 401, `${name} must be refused`);
      }
      // Envoy answers a valid signature for another audience with 403 (JwtAudienceNotAllowed).
      assert.equal((await http('GET', '/me', { token: wrongAudience })).status, 403, 'wrong audience must be refused');
      const missing = await http('GET', '/me');
      assert.equal(missing.status, 401, 'no token');
      assert.deepEqual(Object.keys(missing.body ?? {}).sort(), ['code', 'message'], 'Envoy refusals are JSON like service errors');
      assert.equal(missing.body.code, Status.UNAUTHENTICATED);
      assert.equal((await http('GET', '/me', { headers: { authorization: 'Basic abc' } })).status, 401, 'not a bearer token');
    });

    test('a client cannot smuggle the node-to-node hop marker', async () => {
      // A replica that saw this header on a write would refuse it; Envoy strips it.
      for (let i = 0; i < 6; i++) {
        const username = uniqueName('hop');
        const res = await http('POST', '/register', { headers: { 'x-forwarded-write': 'node9' }, body: { username, email: `${username}@example.edu` } });
        assert.equal(res.status, 200, res.text);
      }
    });
  });

  describe('HTTP semantics and bad input', () => {
    test('known path with the wrong method is 405, unknown path 404', async () => {
      const wrongVerb = await http('GET', '/auth');
      assert.equal(wrongVerb.status, 405);
      assert.deepEqual(wrongVerb.body, { code: Status.UNIMPLEMENTED, message: 'method not allowed' }, 'the JSON shape of every refusal');
      assert.equal(wrongVerb.headers.get('allow'), 'POST', 'Allow names the verbs the path has');
      assert.equal((await http('DELETE', '/registration-period/')).headers.get('allow'), 'GET, PUT', 'a trailing slash is the same path');
      assert.equal((await http('POST', '/.well-known/jwks.json')).status, 405);
      assert.equal((await http('GET', '/login')).status, 405);
      assert.equal((await http('GET', '/no/such/thing')).status, 404);
      const unknown = await http('POST', '/nope', { body: {} });
      assert.equal(unknown.status, 404);
      assert.deepEqual(unknown.body, { code: Status.NOT_FOUND, message: 'not found' });
    });

    test('a path with an encoded slash or backslash is 400 in the JSON error shape', async () => {
      for (const path of ['/departments/1%2F2', '/users/1%5c2/enrollments', '/auth-logs%2F']) {
        const res = await http('GET', path);
        assert.equal(res.status, 400, path);
        assert.equal(res.headers.get('content-type'), 'application/json', path);
        assert.deepEqual(res.body, { code: Status.INVALID_ARGUMENT, message: 'the path is not valid: it holds an encoded slash or backslash, or climbs above the root' }, path);
      }
    });

    test('a URL over Envoy\'s header limit is 431 in the JSON error shape', async () => {
      const res = await http('GET', `/courses?query=${'a'.repeat(70_000)}`);
      assert.equal(res.status, 431);
      assert.equal(res.headers.get('content-type'), 'application/json');
      assert.deepEqual(res.body, { code: Status.INVALID_ARGUMENT, message: 'Request Header Fields Too Large' });
    });

    test('malformed bodies, wrong types, empty and huge fields get a clear 4xx, never a 5xx', async () => {
      const name = uniqueName('bad');
      const cases: Array<[string, unknown, number]> = [
        ['malformed JSON', '{"username": ', 400],
        ['wrong type', { username: 42, email: ['x'] }, 400],
        ['empty username', { username: '', email: `${name}@example.edu` }, 400],
        ['bad email', { username: name, email: 'not-an-email' }, 400],
        ['huge username', { username: 'a'.repeat(10_000), email: `${name}@example.edu` }, 400],
        ['password too short', { username: name, email: `${name}@example.edu`, password: 'short' }, 400],
      ];
      for (const [what, body, expected] of cases) {
        const res = await http('POST', '/register', { body });
        assert.equal(res.status, expected, `${what}: ${res.status} ${res.text}`);
        assert.doesNotMatch(res.text, /SQLITE|at .*\.js:\d+|INSERT|SELECT/i, `${what}: no internals leak`);
      }
      const tooBig = await http('POST', '/register', { body: { username: name, email: `${name}@example.edu`, first_name: 'x'.repeat(200_000) } });
      assert.ok(tooBig.status >= 400 && tooBig.status < 500, `a 200 KB body is refused with a 4xx, got ${tooBig.status}`);

      // A body Envoy cannot transcode is answered in the same JSON shape, and
      // the answer never quotes the body: it may hold a password or a token.
      const secret = 'hunter2-do-not-echo';
      const unparsable: Array<[string, string]> = [
        ['/login', `{"username": "ada", "password": ${secret}}`],
        ['/login', `{"username": "ada", "password": "x" "${secret}"}`],
        ['/login', '{"username": "ada", "password": 918273645}'],
        ['/token', `{"refresh_token": ${secret}`],
        ['/register', `{"username": "${name}", "password": ${secret}}`],
      ];
      for (const [path, body] of unparsable) {
        const res = await http('POST', path, { body });
        assert.equal(res.status, 400, `${path} ${body}: ${res.status} ${res.text}`);
        assert.equal(res.body?.code, Status.INVALID_ARGUMENT, `${path} ${body}: a JSON error, got ${res.text}`);
        assert.doesNotMatch(res.text, /hunter2|918273645/, `${path} ${body}: the body is not quoted back`);
      }

      const field = await http('POST', '/register', { body: { username: name, email: 'not-an-email' } });
      assert.match(field.body.message, /email/, 'the error names the field');

      // Nothing stored was harmed: the name is still free and registers fine.
      const ok = await http('POST', '/register', { body: { username: name, email: `${name}@example.edu` } });
      assert.equal(ok.status, 200, ok.text);
      const dup = await http('POST', '/register', { body: { username: name.toUpperCase(), email: `x${name}@example.edu` } });
      assert.equal(dup.status, 409, 'usernames are unique regardless of case');
    });
  });

  describe('rate limiting of the token endpoints', () => {
    test('a burst of logins gets 429 over HTTP and RESOURCE_EXHAUSTED over gRPC', async () => {
      // A username each, so that the 429s are Envoy's bucket, not the service's throttle of one username.
      const burst = await Promise.all(
        Array.from({ length: 80 }, () => http('POST', '/login', { body: { username: uniqueName('nobody'), password: 'whatever123' }, rateLimitRetry: false })),
      );
      const statuses = burst.map((r) => r.status);
      assert.ok(statuses.includes(429), `expected some 429 in ${JSON.stringify(statuses)}`);
      assert.ok(statuses.every((s) => s === 429 || s === 401), `only 401 or 429, got ${JSON.stringify([...new Set(statuses)])}`);
      assert.ok(burst.filter((r) => r.status === 429).every((r) => r.headers.get('x-ratelimit') === 'token-endpoint'));
      assert.ok(burst.filter((r) => r.status === 429).every((r) => r.headers.get('retry-after') === '1'), 'the buckets refill within the second');

      const client = authClient();
      try {
        const answers = await Promise.all(Array.from({ length: 80 }, () => call(client, 'Login', { username: uniqueName('nobody'), password: 'whatever123' }, { rateLimitRetry: false })));
        const codes = answers.map((a) => a.error?.code);
        assert.ok(codes.includes(Status.RESOURCE_EXHAUSTED), `expected RESOURCE_EXHAUSTED in ${JSON.stringify(codes)}`);
      } finally {
        client.close();
      }
    });

    test("one client's flood of logins is refused from its own bucket: another client is still served", async () => {
      const login = (localAddress: string) => httpRaw('POST', '/login', JSON.stringify({ username: uniqueName('nobody'), password: 'whatever123' }), { localAddress });
      // Both addresses start with full buckets, and so does the route's (20/s refills 40 in 2 s).
      await sleep(2_500);
      // 127.0.0.2 sends 100 at once: its own bucket holds 20, and refuses the rest
      // without touching the route's.
      const flood = await Promise.all(Array.from({ length: 100 }, () => login('127.0.0.2')));
      const refused = flood.filter((r) => r.status === 429);
      assert.ok(refused.length >= 70, `most of the flood is refused: ${refused.length} of 100`);
      assert.ok(refused.every((r) => r.headers['x-ratelimit'] === 'token-endpoint'), "Envoy's rate limit refused them");
      assert.ok(flood.every((r) => r.status === 429 || r.status === 401), JSON.stringify([...new Set(flood.map((r) => r.status))]));
      // Right after, 127.0.0.3 sends 10 at once: the route's bucket still has room for
      // them. With one bucket for everyone the flood had emptied it, and these were 429.
      const other = await Promise.all(Array.from({ length: 10 }, () => login('127.0.0.3')));
      assert.deepEqual(other.map((r) => r.status), Array(10).fill(401), 'another client is served');
    });

    test('a burst of registrations gets 429 from a bucket of its own, and is served again once it refills', async () => {
      // Each answered as it comes, 429 included (`http` alone would wait a 429 out).
      const login = (rateLimitRetry = false) => http('POST', '/login', { body: { username: uniqueName('nobody'), password: 'whatever123' }, rateLimitRetry });
      // No email: the service refuses these with 400 before it hashes anything.
      const register = (rateLimitRetry = false) => http('POST', '/register', { body: { username: 'nobody-registers', password: 'whatever123' }, rateLimitRetry });
      assert.equal((await login(true)).status, 401, 'the login bucket refilled after the test above');

      const burst = await Promise.all(Array.from({ length: 80 }, () => register()));
      const statuses = burst.map((r) => r.status);
      assert.ok(statuses.includes(429), `expected some 429 in ${JSON.stringify(statuses)}`);
      assert.ok(statuses.every((s) => s === 429 || s === 400), `only 400 or 429, got ${JSON.stringify([...new Set(statuses)])}`);
      assert.equal(burst.find((r) => r.status === 429)!.headers.get('x-ratelimit'), 'token-endpoint');

      assert.equal((await login()).status, 401, 'a flood of sign-ups does not use up the logins');
      assert.equal((await register(true)).status, 400, 'registrations are served again within seconds');
    });
  });

  describe('logins under load', () => {
    // With LOGIN_COMMIT_WAIT_MS (default 40), a login whose password check is done waits
    // for the others still checking, so concurrent logins share commits. Without the
    // wait, this load gives about 1.3 logins per commit (bench scenario 06).
    const LOGINS = 16;

    /** The distinct commits that carried these writes; each answer must be OK and report its TXID. */
    function commitsOf(answers: Array<{ error?: grpc.ServiceError; headers: grpc.Metadata }>, what: string): number {
      for (const a of answers) assert.equal(a.error, undefined, a.error?.details);
      const txids = answers.map((a) => txidOf(a.headers));
      assert.ok(txids.every((x) => x !== undefined), `every ${what} reports the TXID of its write`);
      return new Set(txids).size;
    }

    test('every auth service hashes on one pool thread per core (services/node/env.ts)', () => {
      for (const n of [1, 2, 3] as const) {
        const said = env.cluster.logEntries(`node${n}`).filter((e) => e.service === 'auth' && 'threadPool' in e);
        assert.ok(said.length > 0, `node${n}: auth logged its thread pool size`);
        assert.equal(said.at(-1)!.threadPool, String(authThreadPoolSize()), `node${n}: auth's pool`);
      }
    });

    test('logins checking their passwords at the same time share commits, on the primary and through a replica, and each is audited', async (t) => {
      const people = await manyStudents(LOGINS, env.cluster.node(1).authGrpc);
      for (const n of [1, 2] as const) {
        const client = authClient(env.cluster.node(n).authGrpc);
        try {
          const answers = await Promise.all(people.map((p) => call(client, 'Login', { username: p.username, password: p.password })));
          const commits = commitsOf(answers, 'login');
          t.diagnostic(`node${n}: ${LOGINS} logins in ${commits} commits`);
          assert.ok(commits <= LOGINS / 2, `node${n}: ${LOGINS} concurrent logins took ${commits} commits`);
        } finally {
          client.close();
        }
      }
      // One login each from manyStudents, then one per node above: all committed and audited.
      const db = new Database(join(env.cluster.node(1).mount, 'auth.db'), { readonly: true, fileMustExist: true });
      try {
        const count = db.prepare("SELECT count(*) AS n FROM auth_logs WHERE user_id = ? AND outcome = 'ok'");
        for (const p of people) assert.equal((count.get(p.id) as { n: number }).n, 3, `user ${p.id}: three audited logins`);
      } finally {
        db.close();
      }
    });

    test('guesses at one username sent at once, to the primary or a replica, stop at the limit: the rest are throttled', async () => {
      // Straight to the services' gRPC ports, so that Envoy's bucket refuses none of them.
      for (const n of [1, 2] as const) {
        const [victim] = await manyStudents(1, env.cluster.node(1).authGrpc);
        const client = authClient(env.cluster.node(n).authGrpc);
        try {
          const guesses = Array.from({ length: 14 }, (_, i) => call(client, 'Login', { username: victim!.username, password: `guess ${i}` }));
          const codes = (await Promise.all(guesses)).map((a) => a.error?.code);
          const count = (code: Status) => codes.filter((c) => c === code).length;
          // LOGIN_FAILURE_LIMIT is 10 on the test cluster, as by default.
          assert.deepEqual(
            { unauthenticated: count(Status.UNAUTHENTICATED), throttled: count(Status.RESOURCE_EXHAUSTED) },
            { unauthenticated: 10, throttled: 4 },
            `node${n}: ${JSON.stringify(codes)}`,
          );
          const right = await call(client, 'Login', { username: victim!.username, password: victim!.password });
          assert.equal(right.error?.code, Status.RESOURCE_EXHAUSTED, `node${n}: the right password is refused for the window`);
        } finally {
          client.close();
        }
      }
    });

    test('registrations hashing their passwords at the same time share commits too, and each user is there', async (t) => {
      for (const n of [1, 2] as const) {
        const client = authClient(env.cluster.node(n).authGrpc);
        try {
          const names = Array.from({ length: LOGINS }, () => uniqueName('burst'));
          const answers = await Promise.all(
            names.map((username) => call(client, 'Register', { username, email: `${username}@example.edu`, password: 'a long password' })),
          );
          const commits = commitsOf(answers, 'registration');
          t.diagnostic(`node${n}: ${LOGINS} registrations in ${commits} commits`);
          assert.ok(commits <= LOGINS / 2, `node${n}: ${LOGINS} concurrent registrations took ${commits} commits`);
          const ids = answers.map((a) => (a.response as { user_id: number }).user_id);
          assert.equal(new Set(ids).size, LOGINS, 'every registration got its own user id');
          const again = await call(client, 'Login', { username: names[0], password: 'a long password' });
          assert.equal(again.error, undefined, 'a user registered in the burst logs in');
        } finally {
          client.close();
        }
      }
    });
  });

  describe('operability', () => {
    test('every node serves the standard health service and server reflection', async () => {
      for (const node of env.cluster.nodes) {
        for (const [addr, service] of [[node.authGrpc, 'auth.v1.AuthService'], [node.enrollGrpc, 'enroll.v1.EnrollService']] as const) {
          assert.equal(await healthStatus(addr), 'SERVING', `${node.name} ${service}`);
          const listed = spawnSync(process.execPath, ['-e', REFLECTION_LIST, addr], { encoding: 'utf8' });
          assert.match(listed.stdout, new RegExp(service.replace(/\./g, '\\.')), `${node.name} reflection lists ${service}: ${listed.stderr}`);
        }
      }
    });

    test("the user directory is served only on each node's Unix socket, never on the public port or through Envoy", async () => {
      for (const node of env.cluster.nodes) {
        const open = directoryClient(node.authGrpc);
        const local = directoryClient(node.authDirectory);
        try {
          const refused = await call(open, 'ListUsers', { after_id: 0, page_size: 10 });
          assert.equal(refused.error?.code, Status.UNIMPLEMENTED, `${node.name}: the public port lists no users`);
          const listed = await call(local, 'ListUsers', { after_id: 0, page_size: 10 });
          assert.equal(listed.error, undefined, listed.error?.details);
          assert.ok(
            (listed.response.users as Array<{ username: string }>).some((u) => u.username === env.cluster.registrar.username),
            `${node.name}: the socket lists the registrar`,
          );
        } finally {
          open.close();
          local.close();
        }
      }
      // Not even for a registrar: Envoy has no route to it (its 404 reaches gRPC clients as UNIMPLEMENTED).
      const registrarToken = await loginHttp(env.cluster.registrar);
      const viaEnvoy = directoryClient(ENVOY_GRPC);
      try {
        for (const token of [undefined, registrarToken]) {
          const refused = await call(viaEnvoy, 'ListUsers', { after_id: 0, page_size: 10 }, { token });
          assert.equal(refused.error?.code, Status.UNIMPLEMENTED, `via Envoy ${token ? 'as the registrar' : 'without a token'}: ${refused.error?.details}`);
        }
      } finally {
        viaEnvoy.close();
      }
    });

    test('every answer carries the x-request-id the services log its lines under; Envoy\'s own refusals carry one too, and a client\'s is replaced', async () => {
      const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
      const u = await registerAndLogin('rid');
      const me = await http('GET', '/me', { token: u.token });
      assert.equal(me.status, 200);
      const rid = me.headers.get('x-request-id') ?? '';
      assert.match(rid, uuid);
      // Reads go to the replicas: the line is in node2's or node3's log.
      const line = await env.cluster.waitUntil(
        () => (['node1', 'node2', 'node3'] as const).flatMap((n) => env.cluster.logEntries(n)).find((e) => e.rid === rid),
        5_000,
      );
      assert.equal(line?.method, '/auth.v1.AuthService/Me');
      const unauthenticated = await http('GET', '/me');
      assert.equal(unauthenticated.status, 401, 'refused by Envoy, before any service');
      assert.match(unauthenticated.headers.get('x-request-id') ?? '', uuid);
      const claimed = await http('GET', '/me', { token: u.token, headers: { 'x-request-id': 'chosen-by-the-client' } });
      assert.match(claimed.headers.get('x-request-id') ?? '', uuid);
    });

    test('logs are JSON lines with request id, method, status and duration, and never hold secrets', async () => {
      const u = await registerAndLogin('logs');
      await http('POST', '/token', { body: { refresh_token: u.refresh } });
      const lines = readdirSync(env.cluster.logsDir)
        .filter((f) => f.startsWith('node'))
        .flatMap((f) => readFileSync(join(env.cluster.logsDir, f), 'utf8').split('\n'));
      const requests = lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)).filter((j) => j.msg === 'request done' || j.msg === 'request refused');
      assert.ok(requests.length > 10);
      // The enrollment service's poll of the user directory (every 2 s, and this cluster has
      // run for longer) stays out of the log at the default level.
      assert.deepEqual(requests.filter((r) => r.method === '/auth.v1.UserDirectory/ListUsers'), [], 'the directory poll is logged at info');
      for (const r of requests) {
        assert.ok(r.rid && r.method && r.code && typeof r.ms === 'number', `a request line has rid, method, code, ms: ${JSON.stringify(r)}`);
      }
      const all = lines.join('\n');
      for (const secret of [u.password, u.token, u.refresh, env.cluster.registrar.password]) {
        assert.ok(!all.includes(secret), 'a password or token appears in the logs');
      }
      assert.doesNotMatch(all, /BEGIN (RSA )?PRIVATE KEY|\$argon2id\$/, 'no key or password hash in the logs');
      assert.doesNotMatch(all, /"stack"|\n\s+at .*:\d+:\d+\)?\n/, 'no stack trace in the logs (lib/log.ts, loggedError)');
    });
  });
});

/**
 * Signing-key rotation on the real cluster, with the schedule shortened from
 * days to seconds through the same variables an operator would set
 * (services/auth/key-settings.ts): a key signs for 8 s, is published at
 * least 3 s before it signs, tokens live 6 s, and Envoy and the enrollment
 * service keep the JWKS for 1 s.
 *
 * Envoy never re-fetches the JWKS for an unknown kid (deploy/envoy/envoy.yaml),
 * so a key that signed before the caches had it would get its first tokens
 * refused. The test logs in every few hundred milliseconds across several
 * rotations and sends each new token at once through Envoy to both services.
 *
 * node2's LiteFS reaches the primary's through a proxy the last test cuts: a
 * replica cut off misses the keys the primary makes meanwhile, and answers a
 * token from one of them UNAVAILABLE (retry elsewhere), not UNAUTHENTICATED.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import Database from 'better-sqlite3';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { loadPrivateKey } from '../../services/auth/domain/keys.js';
import { useClusterWithNode2Proxied } from '../harness/cluster.js';
import { authClient, call, enrollClient, http, uniqueName, type UnaryClient } from '../support/clients.js';
import { healthStatus } from '../../lib/grpc/health-client.js';
import { metricSample, scrape } from '../../lib/prometheus-text.js';

const SCHEDULE = { AUTH_KEY_ROTATE_S: '8', AUTH_KEY_PUBLISH_LEAD_S: '3', ACCESS_TOKEN_TTL_S: '6', JWKS_CACHE_S: '1' };
const JWKS_CACHE_MS = Number(SCHEDULE.JWKS_CACHE_S) * 1000;

interface Jwk {
  kid: string;
  n: string;
}

describe('signing keys rotate on the real cluster without a refused token', () => {
  // node2's LiteFS streams from the primary's through a proxy, so that the last test can
  // cut node2 off alone.
  const env = useClusterWithNode2Proxied({ env: SCHEDULE });

  /** What the first test saw, for the second: each key id in the order it signed, with one token it signed. */
  const signed: Array<{ kid: string; token: string }> = [];

  test('across rotations every new token passes Envoy and both services at once, and each key was published at least one JWKS cache period before it signed', async (t) => {
    const schedule = env.cluster.logEntries('node1').find((e) => e.msg === 'signing-key schedule (seconds)');
    assert.deepEqual(schedule?.keyPolicy, { rotateEvery: 8, publishLead: 3, tokenTtl: 6, jwksCache: 1 }, 'the auth service started with the short schedule');
    const dump = await (await fetch(`${env.cluster.envoyAdminUrl}/config_dump`)).text();
    assert.match(dump, /"cache_duration": "1s"/, "scripts/envoy.sh wrote JWKS_CACHE_S into Envoy's config");

    const username = uniqueName('rotation');
    const password = 'correct horse battery';
    const reg = await http('POST', '/register', { body: { username, email: `${username}@example.edu`, password } });
    assert.equal(reg.status, 200, reg.text);
    const userId: number = reg.body.user_id;

    const start = Date.now();
    const inFirstJwks = new Set(((await http('GET', '/.well-known/jwks.json')).body.keys as Jwk[]).map((k) => k.kid));
    const publishedAt = new Map<string, number>();
    const firstSignedAt = new Map<string, number>();
    /** Keys seen appearing in the JWKS during the test and then signing: the ones whose lead the test can measure. */
    const measurable = () => [...firstSignedAt.keys()].filter((kid) => !inFirstJwks.has(kid));

    while (measurable().length < 2) {
      assert.ok(Date.now() - start < 60_000, `two new keys should sign within 60 s; saw ${JSON.stringify([...firstSignedAt.keys()])}`);
      const jwks = await http('GET', '/.well-known/jwks.json');
      assert.equal(jwks.status, 200, jwks.text);
      for (const key of jwks.body.keys as Jwk[]) if (!publishedAt.has(key.kid)) publishedAt.set(key.kid, Date.now());

      const login = await http('POST', '/login', { body: { username, password } });
      assert.equal(login.status, 200, login.text);
      const token: string = login.body.access_token;
      const kid = decodeProtectedHeader(token).kid!;
      const previous = signed.at(-1);
      if (previous?.kid !== kid) {
        firstSignedAt.set(kid, Date.now());
        signed.push({ kid, token });
      } else {
        previous.token = token;
      }

      const me = await http('GET', '/me', { token });
      assert.equal(me.status, 200, `a token from key ${kid}, ${Date.now() - firstSignedAt.get(kid)!} ms after it first signed, through Envoy to the auth service: ${me.text}`);
      const mine = await http('GET', `/users/${userId}/enrollments`, { token });
      assert.equal(mine.status, 200, `the same token to the enrollment service: ${mine.text}`);
      if (previous !== undefined && previous.kid !== kid) {
        // The key before still verifies the tokens it signed until they expire.
        assert.equal((await http('GET', '/me', { token: previous.token })).status, 200, `the last token of the key before (${previous.kid}) still passes`);
        assert.equal((await http('GET', `/users/${userId}/enrollments`, { token: previous.token })).status, 200);
      }
      await sleep(250);
    }

    for (const kid of measurable()) {
      const published = publishedAt.get(kid);
      assert.ok(published !== undefined, `key ${kid} signed without ever being seen in the JWKS`);
      const lead = firstSignedAt.get(kid)! - published;
      t.diagnostic(`key ${kid}: in the JWKS ${lead} ms before its first token`);
      assert.ok(lead >= JWKS_CACHE_MS, `key ${kid} was published ${lead} ms before it signed; at least ${JWKS_CACHE_MS} ms is needed`);
    }
  });

  test('a retired key leaves the JWKS once its tokens have expired; auth.db keeps only the keys it needs, each sealed', async () => {
    const retired = signed[0];
    assert.ok(retired, 'the first test saw a key sign');
    const exp = decodeJwt(retired.token).exp! * 1000;
    await env.cluster.waitUntil(async () => {
      const jwks = await http('GET', '/.well-known/jwks.json');
      return jwks.status === 200 && !(jwks.body.keys as Jwk[]).some((k) => k.kid === retired.kid);
    }, 40_000, { what: `key ${retired.kid} to leave the JWKS` });
    assert.ok(Date.now() >= exp, 'the key left the JWKS only after the last token it signed had expired');
    assert.equal((await http('GET', '/me', { token: retired.token })).status, 401, 'its expired token is refused');

    const kek = Buffer.from(readFileSync(join(env.cluster.dir, 'secrets/kek.hex'), 'utf8').trim(), 'hex');
    const wrongKek = Buffer.from(kek);
    wrongKek[0]! ^= 0xff;
    const db = new Database(join(env.cluster.node(1).mount, 'auth.db'), { readonly: true, fileMustExist: true });
    try {
      // The primary deletes expired keys but the newest (kept for POST /auth?expired) within one check (1.5 s here).
      await env.cluster.waitUntil(() => {
        const expired = db.prepare('SELECT count(*) AS n FROM keys WHERE exp <= unixepoch()').get() as { n: number };
        const gone = db.prepare('SELECT count(*) AS n FROM keys WHERE key_id = ?').get(retired.kid) as { n: number };
        return expired.n === 1 && gone.n === 0;
      }, 30_000, { what: 'the retired key to be deleted, leaving one expired key' });

      const published = new Map(((await http('GET', '/.well-known/jwks.json')).body.keys as Jwk[]).map((k) => [k.kid, k.n]));
      const rows = db.prepare('SELECT key_id, key FROM keys').all() as Array<{ key_id: string; key: Buffer }>;
      assert.ok(rows.length >= 2 && rows.length <= 4, `a signing key, its successor, one expired key: ${rows.length} rows`);
      for (const row of rows) {
        assert.ok(!row.key.toString('latin1').includes('PRIVATE KEY'), `key ${row.key_id} is not stored readable`);
        assert.throws(() => loadPrivateKey(row.key, wrongKek, row.key_id), `key ${row.key_id} does not open under another key-encryption key`);
        const key = loadPrivateKey(row.key, kek, row.key_id);
        const n = published.get(row.key_id);
        if (n !== undefined) assert.equal(key.export({ format: 'jwk' }).n, n, `key ${row.key_id}'s private half matches its published public half`);
      }
    } finally {
      db.close();
    }
  });

  test("every node's auth metrics show the key signing now, with at most a rotation left, and the keys the JWKS publishes", async () => {
    const published = ((await http('GET', '/.well-known/jwks.json')).body.keys as Jwk[]).length;
    for (const n of [1, 2, 3] as const) {
      const text = await scrape(env.cluster.node(n).authMetrics);
      const own = { service: 'auth', node: `node${n}` };
      const left = metricSample(text, 'course_signing_key_remaining_seconds', own);
      assert.ok(left !== undefined && left > 0 && left <= Number(SCHEDULE.AUTH_KEY_ROTATE_S), `node${n}: a key signs, for at most ${SCHEDULE.AUTH_KEY_ROTATE_S} s more (${left})`);
      // The JWKS was read a moment before: a rotation in between changes the count by one.
      const keys = metricSample(text, 'course_published_keys', own) ?? 0;
      assert.ok(Math.abs(keys - published) <= 1 && keys >= 1, `node${n}: ${keys} keys published, the JWKS had ${published}`);
    }
  });

  test("a replica cut off while a new key is made answers that key's tokens UNAVAILABLE, so clients retry elsewhere; once it catches up it accepts them", async (t) => {
    const proxy = env.proxy();
    assert.ok(proxy.accepted > 0, "node2's LiteFS reached the primary through the proxy");
    const username = uniqueName('cutoff');
    const password = 'correct horse battery';
    const reg = await http('POST', '/register', { body: { username, email: `${username}@example.edu`, password } });
    assert.equal(reg.status, 200, reg.text);
    const userId: number = reg.body.user_id;
    const login = async (): Promise<string> => {
      const answer = await http('POST', '/login', { body: { username, password } });
      assert.equal(answer.status, 200, answer.text);
      return answer.body.access_token;
    };
    const keysOn = async (n: 1 | 2 | 3) =>
      new Set(((await (await fetch(`http://${env.cluster.node(n).authJwks}/.well-known/jwks.json`)).json()) as { keys: Jwk[] }).keys.map((k) => k.kid));
    /** What node n's own services answer this token, over gRPC on the node's ports: [auth Me, enroll ListUserEnrollments]. */
    const answersOn = async (n: 1 | 2 | 3, token: string) => {
      const clients: UnaryClient[] = [authClient(env.cluster.node(n).authGrpc), enrollClient(env.cluster.node(n).enrollGrpc)];
      try {
        const me = await call(clients[0]!, 'Me', {}, { token });
        const mine = await call(clients[1]!, 'ListUserEnrollments', { user_id: userId }, { token });
        return [me.error, mine.error].map((e) => (e ? `${grpc.status[e.code]}: ${e.details}` : 'OK'));
      } finally {
        for (const c of clients) c.close();
      }
    };

    const early = await login();
    proxy.cut();
    const cut = Date.now();
    // node2 counts itself behind once it has not heard from the primary for REPLICA_MAX_LAG_MS.
    await env.cluster.waitUntil(async () => (await healthStatus(env.cluster.node(2).authGrpc, 'role.replica')) === 'NOT_SERVING', 20_000, { what: 'node2 to count itself behind' });
    // Envoy then stops fetching the JWKS from node2 (auth_jwks_current) and, within a cache
    // period, holds a key set from current nodes. Until then it may hold node2's, without
    // the new key: with this schedule's 3 s publish lead that window is real (with the
    // default 15 min it is not).
    await env.cluster.waitUntil(async () => !(await env.cluster.envoyHealthy(['auth_jwks_current'], 2)), 20_000, { what: 'Envoy to stop fetching the JWKS from node2' });
    await sleep(2 * JWKS_CACHE_MS);
    const before = await keysOn(2);
    // A key the primary makes after the cut signs within a rotation and its lead (11 s here).
    let token = await login();
    await env.cluster.waitUntil(async () => {
      token = await login();
      return !before.has(decodeProtectedHeader(token).kid!);
    }, 30_000, { what: 'a key node2 does not have to sign' });
    const kid = decodeProtectedHeader(token).kid!;
    t.diagnostic(`key ${kid} signed ${Date.now() - cut} ms after the cut`);
    assert.ok(!(await keysOn(2)).has(kid) && (await keysOn(3)).has(kid), 'node3 has the new key, node2 does not');

    const retryElsewhere = /^UNAVAILABLE: this node is behind its primary and may not have the key that signed this token yet; retry on another node$/;
    const [me2, mine2] = await answersOn(2, token);
    assert.match(me2!, retryElsewhere, "node2's auth service");
    assert.match(mine2!, retryElsewhere, "node2's enrollment service");
    assert.deepEqual(await answersOn(3, token), ['OK', 'OK'], 'node3, current, accepts the token');
    assert.equal((await http('GET', '/me', { token })).status, 200, 'through Envoy, which reads from current nodes');
    // A token that is really bad, from a key node2 has, is still refused as such there.
    const [h, p] = early.split('.');
    const forged = await answersOn(2, `${h}.${p}.AAAA`);
    assert.ok(forged.every((a) => a.startsWith('UNAUTHENTICATED')), `a forged token on node2: ${forged.join(', ')}`);

    proxy.restore();
    await env.cluster.waitUntil(async () => (await keysOn(2)).has(kid), 20_000, { what: 'node2 to receive the key' });
    // A token lives 6 s here: ask with a fresh one. The enrollment service fetches the key
    // set again for the kid it lacks (at most once per JWKS_CACHE_S).
    await env.cluster.waitUntil(async () => (await answersOn(2, await login())).every((a) => a === 'OK'), 15_000, { what: 'node2 to accept tokens again' });
  });
});

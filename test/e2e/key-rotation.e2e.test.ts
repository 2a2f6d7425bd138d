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
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { loadPrivateKey } from '../../services/auth/domain/keys.js';
import { useCluster } from '../harness/cluster.js';
import { http, uniqueName } from '../support/clients.js';
import { metricSample, scrape } from '../../lib/prometheus-text.js';

const SCHEDULE = { AUTH_KEY_ROTATE_S: '8', AUTH_KEY_PUBLISH_LEAD_S: '3', ACCESS_TOKEN_TTL_S: '6', JWKS_CACHE_S: '1' };
const JWKS_CACHE_MS = Number(SCHEDULE.JWKS_CACHE_S) * 1000;

interface Jwk {
  kid: string;
  n: string;
}

describe('signing keys rotate on the real cluster without a refused token', () => {
  const env = useCluster({ env: SCHEDULE });

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
});

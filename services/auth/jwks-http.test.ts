/**
 * The JWKS side port: the key set, and the two health checks Envoy uses to
 * choose where it fetches it (services/auth/jwks-http.ts), with the auth
 * domain standing in.
 */
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { after, test } from 'node:test';
import { pino } from 'pino';
import type { AuthDomain } from './domain/index.js';
import { startJwksServer } from './jwks-http.js';

const servers: Server[] = [];
after(() => Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())))));

async function serve(keys: unknown[], isCurrent: () => boolean): Promise<string> {
  const domain = { jwks: () => ({ keys }), keys: { policy: { jwksCache: 300 } } } as unknown as AuthDomain;
  const server = await startJwksServer(domain, '127.0.0.1:0', pino({ level: 'silent' }), isCurrent);
  servers.push(server);
  const address = server.address();
  assert.ok(address && typeof address === 'object');
  return `http://127.0.0.1:${address.port}`;
}

const statusOf = async (url: string) => (await fetch(url)).status;

test('the JWKS, and /healthz/current following whether the node is current while /healthz does not', async () => {
  let current = true;
  const base = await serve([{ kid: 'k1', kty: 'RSA' }], () => current);
  const jwks = await fetch(`${base}/.well-known/jwks.json`);
  assert.equal(jwks.status, 200);
  assert.deepEqual(await jwks.json(), { keys: [{ kid: 'k1', kty: 'RSA' }] });
  assert.equal(jwks.headers.get('cache-control'), 'public, max-age=300');
  assert.equal(await statusOf(`${base}/healthz`), 200);
  assert.equal(await statusOf(`${base}/healthz/current`), 200);

  current = false; // a replica past REPLICA_MAX_LAG_MS, or LiteFS unreachable
  assert.equal(await statusOf(`${base}/healthz/current`), 503);
  assert.equal(await statusOf(`${base}/healthz`), 200, 'it can still serve the JWKS, for when no node is current');
  assert.equal(await statusOf(`${base}/.well-known/jwks.json`), 200);
  current = true;
  assert.equal(await statusOf(`${base}/healthz/current`), 200);
});

test('before the first key exists every path answers 503, so Envoy neither caches nor counts an empty set', async () => {
  const base = await serve([], () => true);
  for (const path of ['/.well-known/jwks.json', '/healthz', '/healthz/current']) {
    const res = await fetch(`${base}${path}`);
    assert.equal(res.status, 503, path);
    assert.equal(res.headers.get('retry-after'), '1');
  }
});

test('other paths are 404 and other methods 405', async () => {
  const base = await serve([{ kid: 'k1' }], () => true);
  assert.equal(await statusOf(`${base}/healthz/other`), 404);
  assert.equal(await statusOf(`${base}/`), 404);
  const post = await fetch(`${base}/healthz/current`, { method: 'POST' });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get('allow'), 'GET, HEAD');
});

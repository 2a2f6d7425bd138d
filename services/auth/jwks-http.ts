/**
 * The JWKS over plain HTTP on a side port, for Envoy's jwt_authn (which
 * cannot fetch it through its own listener at start-up), and two health
 * checks of that port for Envoy:
 *
 * - /healthz: this node can serve the JWKS;
 * - /healthz/current: and its copy is current (the primary, or a replica
 *   within REPLICA_MAX_LAG_MS of it), so it has every key the primary has
 *   published. Envoy fetches from such a node when there is one: a replica
 *   cut off for longer than a key's publish lead would lack a key that signs.
 *
 * Until the first signing key exists all three answer 503, so Envoy never
 * caches an empty key set.
 */
import { createServer, type Server } from 'node:http';
import type { Logger } from '../../lib/log.js';
import type { AuthDomain } from './domain/index.js';
import { jwksCacheControl } from './handlers.js';

export function startJwksServer(domain: AuthDomain, addr: string, log: Logger, isCurrent: () => boolean): Promise<Server> {
  const [host, port] = splitAddr(addr);
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
    if (path !== '/.well-known/jwks.json' && path !== '/healthz' && path !== '/healthz/current') return send(404, { message: 'not found' });
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, { message: 'method not allowed' }, { allow: 'GET, HEAD' });
    try {
      const jwks = domain.jwks();
      if (jwks.keys.length === 0) return send(503, { message: 'no signing keys yet' }, { 'retry-after': '1' });
      if (path === '/healthz') return send(200, { status: 'ok' });
      if (path === '/healthz/current') return isCurrent() ? send(200, { status: 'current' }) : send(503, { message: 'this node is not current' });
      return send(200, jwks, { 'cache-control': jwksCacheControl(domain) });
    } catch (err) {
      log.error({ err }, 'jwks failed');
      return send(500, { message: 'internal error' });
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      log.info({ addr }, 'JWKS side port listening');
      resolve(server);
    });
  });
}

function splitAddr(addr: string): [string, number] {
  const i = addr.lastIndexOf(':');
  return [addr.slice(0, i), Number(addr.slice(i + 1))];
}

/**
 * The Procfile's `ready` process: waits until the cluster can serve a user
 * (lib/cluster-ready.ts), says so once, then idles until foreman stops it
 * (foreman stops everything when one process exits).
 */
import { fetchText, readinessGaps } from '../lib/cluster-ready.js';

const envoy = `http://127.0.0.1:${process.env.ENVOY_PORT ?? '8080'}`;
const admin = `http://127.0.0.1:${process.env.ENVOY_ADMIN_PORT ?? '9901'}`;
const credentials = process.env.REGISTRAR_USERNAME
  ? 'REGISTRAR_USERNAME/REGISTRAR_PASSWORD in your environment'
  : `${process.env.CLUSTER_DIR ?? 'var/cluster'}/secrets/registrar.env`;

const text = async (url: string): Promise<string> => (await fetchText(url)) ?? '';

async function publishedKeys(): Promise<number> {
  try {
    const jwks = JSON.parse(await text(`${envoy}/.well-known/jwks.json`)) as { keys?: unknown[] };
    return jwks.keys?.length ?? 0;
  } catch {
    return 0;
  }
}

process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));

const started = Date.now();
let lastReport = started;
for (;;) {
  const gaps = readinessGaps(await text(`${admin}/clusters`), await text(`${admin}/stats?filter=jwks_fetch_success`), await publishedKeys());
  if (gaps.length === 0) break;
  if (Date.now() - lastReport >= 10_000) {
    lastReport = Date.now();
    console.log(`ready: still waiting after ${Math.round((lastReport - started) / 1000)} s: ${gaps.join('; ')}`);
  }
  await new Promise((resolve) => setTimeout(resolve, 500));
}
console.log(`ready: the cluster answers on ${envoy} (HTTP/JSON and gRPC); the registrar's credentials: ${credentials}`);
// Idle until foreman stops the cluster.
setInterval(() => undefined, 1 << 30);

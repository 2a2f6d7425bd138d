/**
 * The enrollment service on one node: composition root. Opens enroll.db in
 * the node's LiteFS mount, verifies tokens against the auth service's JWKS on
 * the same node, and on the primary mirrors new users from the auth service.
 */
import { Counter } from 'prom-client';
import { env, jwksCacheSeconds, optionalEnv } from '../../lib/config.js';
import { currentCall } from '../../lib/grpc/handler.js';
import { remoteVerifier } from '../../lib/grpc/identity.js';
import { startService } from '../../lib/grpc/service.js';
import { exitOnUncaughtError } from '../../lib/log.js';
import { directoryClient } from './directory-client.js';
import { EnrollDomain } from './domain/enroll-domain.js';
import { enrollServiceHandlers } from './handlers.js';
import { ENROLL_MIGRATIONS } from './store/migrations.js';

/** How often the primary copies newly registered users from the auth service. */
const UserSyncIntervalMs = 2_000;

exitOnUncaughtError('enroll', optionalEnv('NODE_NAME'));
// Read before start: a bad value stops the service before it opens anything.
const jwksCacheS = jwksCacheSeconds();

const svc = await startService({
  name: 'enroll',
  protoFile: 'enroll/v1/enroll.proto',
  dbName: 'enroll.db',
  migrations: ENROLL_MIGRATIONS,
  opsModules: [new URL('./domain/enroll-domain.js', import.meta.url).href],
  addrEnv: 'ENROLL_GRPC_ADDR',
  metricsAddrEnv: 'ENROLL_METRICS_ADDR',
  peersEnv: 'ENROLL_PEERS',
  // Every write may carry an idempotency-key: sent again, it is answered from its first result.
  idempotencyKeys: true,
});

// The auth service on this node, on its node-local socket (unix:…).
const directory = directoryClient(env('AUTH_DIRECTORY_ADDR'));
const domain = new EnrollDomain({
  db: svc.db.read,
  reads: svc.reads,
  query: svc.read,
  write: svc.write,
  requestWrite: svc.requestWrite,
  directory,
  memoReads: svc.config.readMemo,
  // While LiteFS's event stream announces every commit, the memo needs no read to know the data is unchanged.
  followed: () => svc.node.followed(svc.db.name),
  memoStaleMs: svc.config.readMemoStaleMs,
  // An answer kept from before a commit is given only if it includes the caller's
  // x-min-txid and every write this process has answered.
  readFloor: () => {
    const wanted = currentCall()?.minTxid ?? 0n;
    const acknowledged = svc.node.acknowledged(svc.db.name);
    return wanted > acknowledged ? wanted : acknowledged;
  },
});
// How much the catalogue memo saved (lib/read-memo.ts), for whoever tunes the node:
// in the metrics while it runs, and in the log when it stops.
new Counter({
  name: 'course_catalogue_memo_reads_total',
  help: 'Catalogue reads by how the memo answered: hit (the kept answer), stale (the kept one while the next is computed), miss (computed).',
  labelNames: ['answer'],
  registers: [svc.metrics.registry],
  collect() {
    const stats = domain.memoStats();
    this.reset();
    if (!stats) return;
    this.inc({ answer: 'hit' }, stats.hits);
    this.inc({ answer: 'stale' }, stats.stale);
    this.inc({ answer: 'miss' }, stats.misses);
  },
});
svc.onShutdown(() => {
  const stats = domain.memoStats();
  if (stats) svc.log.info(stats, 'catalogue memo');
});

if (svc.isPrimary) {
  const sync = () =>
    domain
      .syncUsers()
      .then((added) => added > 0 && svc.log.info({ added }, 'users mirrored from the auth service'))
      .then(() => domain.syncUserChanges())
      .then(
        (changes) => changes > 0 && svc.log.info({ changes }, 'changes to users mirrored from the auth service'),
        (err: unknown) => svc.log.warn({ err: String(err) }, 'user sync failed; will retry'),
      );
  void sync();
  const timer = setInterval(sync, UserSyncIntervalMs);
  timer.unref();
  svc.onShutdown(() => clearInterval(timer));
}
svc.onShutdown(() => directory.close());

const verifier = remoteVerifier(`http://${env('AUTH_JWKS_ADDR')}/.well-known/jwks.json`, env('JWT_ISSUER'), env('JWT_AUDIENCE'), jwksCacheS);
svc.addService('enroll.v1.EnrollService', enrollServiceHandlers(domain), verifier);
await svc.listen();

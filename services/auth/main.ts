/**
 * The auth service on one node: composition root. Reads its configuration,
 * opens auth.db in the node's LiteFS mount, and on the primary keeps the
 * signing-key schedule filled, creates the first registrar and deletes what
 * is no longer kept (audit entries, long-expired refresh tokens).
 */
import { Counter, Gauge } from 'prom-client';
import { MaxDurationS, env, millis, optionalEnv, seconds, wholeNumber } from '../../lib/config.js';
import { cachingVerifier } from '../../lib/grpc/identity.js';
import { startService } from '../../lib/grpc/service.js';
import { exitOnUncaughtError } from '../../lib/log.js';
import { AuthDomain, DEFAULT_AUDIT_RETENTION_S, DEFAULT_LOGIN_THROTTLE, PRUNE_BATCH } from './domain/index.js';
import { authServiceHandlers, userDirectoryHandlers } from './handlers.js';
import { startJwksServer } from './jwks-http.js';
import { PRUNE_DRAIN_PAUSE_MS, startPruning } from './pruning.js';
import { AUTH_MIGRATIONS } from './store/migrations.js';
import { threadPoolSize } from '../node/env.js';
import { keyCheckIntervalMs, keyPolicyFromEnv } from './key-settings.js';
import { loadKeyEncryptionKey, registrarCredentials } from './secrets.js';

exitOnUncaughtError('auth', optionalEnv('NODE_NAME'));

// Settings and secrets first: a bad one stops the service before it opens anything.
const policy = keyPolicyFromEnv();
const loginThrottle = {
  limit: wholeNumber('LOGIN_FAILURE_LIMIT', DEFAULT_LOGIN_THROTTLE.limit, 1_000_000),
  windowS: seconds('LOGIN_FAILURE_WINDOW_S', DEFAULT_LOGIN_THROTTLE.windowS, MaxDurationS),
};
// 0 keeps the audit log for ever; the most is a century.
const auditRetentionS = wholeNumber('AUTH_LOG_RETENTION_S', DEFAULT_AUDIT_RETENTION_S, 100 * MaxDurationS);
const pruneIntervalS = seconds('AUTH_PRUNE_INTERVAL_S', 60, MaxDurationS);
const keyEncryptionKey = loadKeyEncryptionKey();

const svc = await startService({
  name: 'auth',
  protoFile: 'auth/v1/auth.proto',
  dbName: 'auth.db',
  migrations: AUTH_MIGRATIONS,
  opsModules: [new URL('./domain/index.js', import.meta.url).href],
  addrEnv: 'AUTH_GRPC_ADDR',
  metricsAddrEnv: 'AUTH_METRICS_ADDR',
  peersEnv: 'AUTH_PEERS',
  nodeLocalAddrEnv: 'AUTH_DIRECTORY_ADDR',
});

// Default: about one password check on a busy 2-core node (domain/hash-gate.ts, docs/DESIGN.md).
const loginCommitWaitMs = millis('LOGIN_COMMIT_WAIT_MS', 40, 100);
svc.log.info({ loginCommitWaitMs, threadPool: threadPoolSize(process.env) }, 'logins and registrations wait for others still at their password work, to share commits');

svc.log.info({ keyPolicy: policy }, 'signing-key schedule (seconds)');
svc.log.info({ loginThrottle }, 'failed logins allowed per username and window (seconds; limit 0: no throttle)');
svc.log.info({ auditRetentionS, pruneIntervalS }, 'audit entries kept (seconds; 0: for ever), and how often the primary deletes older ones');

const domain = new AuthDomain({
  db: svc.db.read,
  write: svc.write,
  keyEncryptionKey,
  issuer: env('JWT_ISSUER'),
  audience: env('JWT_AUDIENCE'),
  loginCommitWaitMs,
  loginThrottle,
  auditRetentionS,
  policy,
});

if (svc.isPrimary) {
  const result = await domain.ensureSigningKeys();
  svc.log.info(result, 'signing keys checked');
  const timer = setInterval(() => {
    domain.ensureSigningKeys().then(
      (r) => r.created + r.deleted > 0 && svc.log.info(r, 'signing keys rotated'),
      (err: unknown) => svc.log.error({ err }, 'signing key rotation failed'),
    );
  }, keyCheckIntervalMs(policy));
  timer.unref();
  svc.onShutdown(() => clearInterval(timer));

  const pruned = new Counter({
    name: 'course_pruned_rows_total',
    help: 'Rows the primary deleted as no longer kept: audit entries past their retention, refresh tokens long expired.',
    labelNames: ['table'],
    registers: [svc.metrics.registry],
  });
  // Retention: at most PRUNE_BATCH rows of each kind a run, so no delete makes one large
  // commit; a run every AUTH_PRUNE_INTERVAL_S, or every PRUNE_DRAIN_PAUSE_MS while a
  // backlog drains (pruning.ts).
  const stopPruning = startPruning(
    (max) => domain.prune(max),
    { everyMs: pruneIntervalS * 1000, drainPauseMs: PRUNE_DRAIN_PAUSE_MS, batch: PRUNE_BATCH },
    {
      pruned(r) {
        pruned.inc({ table: 'auth_logs' }, r.authLogs);
        pruned.inc({ table: 'refresh_tokens' }, r.refreshTokens);
        if (r.authLogs + r.refreshTokens > 0) svc.log.info(r, 'deleted rows no longer kept');
      },
      failed: (err) => svc.log.error({ err }, 'deleting rows no longer kept failed'),
    },
  );
  svc.onShutdown(stopPruning);

  const registrar = registrarCredentials();
  if (registrar) {
    const { created, user_id } = await domain.ensureRegistrar(registrar.username, registrar.password);
    svc.log.info({ user_id, created }, created ? 'first registrar created' : 'registrar exists');
  } else {
    svc.log.warn('no registrar credentials (REGISTRAR_USERNAME and REGISTRAR_PASSWORD, or REGISTRAR_FILE): no registrar is created');
  }
}

// The signing-key schedule in the metrics: an operator alerts on a key close to its end
// with no successor signing (rotation runs on the primary, every node reads the same rows).
new Gauge({
  name: 'course_signing_key_remaining_seconds',
  help: 'How long the key signing now still signs (its successor takes over then); -1 when no key signs.',
  registers: [svc.metrics.registry],
  collect() {
    this.set(domain.keyStatus().signsForS ?? -1);
  },
});
new Gauge({
  name: 'course_published_keys',
  help: 'Public keys in the JWKS: the signing one, its published successor, and retired ones whose tokens may still be valid.',
  registers: [svc.metrics.registry],
  collect() {
    this.set(domain.keyStatus().published);
  },
});

const verifier = cachingVerifier({ verify: (token: string) => domain.verifyAccessToken(token) });
svc.addService('auth.v1.AuthService', authServiceHandlers(domain), verifier);
// Every user's name and roles, for the enrollment service beside it: on the node's Unix
// socket only, so no one can list the users over the network (docs/DESIGN.md).
svc.addService('auth.v1.UserDirectory', userDirectoryHandlers(domain), verifier, { nodeLocal: true });
const jwks = await startJwksServer(domain, env('AUTH_JWKS_ADDR'), svc.log, () => svc.isCurrent());
svc.onShutdown(() => new Promise<void>((resolve) => jwks.close(() => resolve())));
await svc.listen();

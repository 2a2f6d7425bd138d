/**
 * What a service counts for the people who run it, in Prometheus's text
 * format (prom-client), served on a plain HTTP port of its own
 * (`METRICS_ADDR`-style variables, see docs/DESIGN.md "Metrics").
 *
 * Every series carries the labels `service` and `node`. Besides Node's own
 * (CPU, memory, event-loop delay, garbage collection), a service counts:
 *
 * - `grpc_server_handled_total` and `grpc_server_handling_seconds`: every
 *   call this process answered, by method and status (a write a replica
 *   forwarded is counted on the replica and again on the primary);
 * - `course_forwarded_writes_total` and `course_forward_wait_seconds`: on a
 *   replica, the writes it forwarded and how long each then waited for its
 *   commit to arrive here (read-your-writes);
 * - `course_commit_writes` and `course_commit_seconds`: on the primary, the
 *   writes each commit carried (group commit) and how long its transaction
 *   took, BEGIN to the new TXID, on the writer;
 * - `course_idempotent_replays_total`: writes answered from an idempotency
 *   key's stored result;
 * - `course_txid{db}` and `course_role{role}`: where this node's copy of the
 *   database is, and its LiteFS role;
 * - `course_replica_lag_seconds`: how long ago this node last heard from its
 *   primary (a replica past REPLICA_MAX_LAG_MS stops offering reads);
 * - `course_commit_timestamp_seconds{db}`: when the primary made the newest
 *   commit this node has (LiteFS's timestamp of it), and
 *   `course_commit_visible_seconds{db}`: for each commit, the time from that
 *   timestamp to this process learning that a read here sees it (on a
 *   replica, replication lag; on the primary, the commit's own time in LiteFS,
 *   its floor).
 *
 * Labels name methods, status codes and roles only: never a user, a key, a
 * token or a request's content.
 */
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { AppliedCommit } from './litefs.js';
import type { CommitStats, Writer } from './writer.js';

/** Seconds: from a cached catalogue answer (well under 1 ms) to a write that waited for a slow commit. */
const LatencyBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Writes per commit: powers of two up to the largest batch (WRITE_MAX_BATCH, 256 by default). */
const BatchBuckets = [1, 2, 4, 8, 16, 32, 64, 128, 256];

export interface ServiceMetrics {
  readonly registry: Registry;
  /** One answered call: its full method path (`/pkg.Service/Method`), status name and duration. */
  call(path: string, code: string, seconds: number): void;
  /** A write this replica forwarded: the primary's status, and how long the answer then waited for its TXID here (OK only). */
  forwarded(code: string, waitSeconds?: number): void;
  /** A write answered from its idempotency key's stored result. */
  replayed(): void;
  /** A commit on this node's writer (observed once per commit, see `observeCommits`). */
  commit(stats: CommitStats): void;
  /** A transaction LiteFS announced on this node (the primary's own commit, or one a replica applied from it). */
  applied(commit: AppliedCommit): void;
  /** This node's LiteFS role; undefined: neither (LiteFS unreachable, or stopping). */
  role(primary: boolean | undefined): void;
  /** How long ago this node last heard from its primary (0 on the primary); undefined: unknown. */
  replicaLag(ms: number | undefined): void;
}

export interface MetricsOptions {
  service: string;
  node: string;
  /** Each database this process serves, and how to read this node's TXID of it. */
  positions?: Record<string, () => bigint>;
}

export function createMetrics(opts: MetricsOptions): ServiceMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service: opts.service, node: opts.node });
  collectDefaultMetrics({ register: registry });

  const handled = new Counter({
    name: 'grpc_server_handled_total',
    help: 'Calls answered, by method and gRPC status.',
    labelNames: ['grpc_service', 'grpc_method', 'grpc_code'],
    registers: [registry],
  });
  const handling = new Histogram({
    name: 'grpc_server_handling_seconds',
    help: 'Time from a call arriving to its answer, by method.',
    labelNames: ['grpc_service', 'grpc_method'],
    buckets: LatencyBuckets,
    registers: [registry],
  });
  const forwarded = new Counter({
    name: 'course_forwarded_writes_total',
    help: "Writes this replica forwarded to the primary, by the primary's gRPC status.",
    labelNames: ['grpc_code'],
    registers: [registry],
  });
  const forwardWait = new Histogram({
    name: 'course_forward_wait_seconds',
    help: 'How long a forwarded write, once the primary answered, waited for its commit to reach this replica.',
    buckets: LatencyBuckets,
    registers: [registry],
  });
  const replays = new Counter({
    name: 'course_idempotent_replays_total',
    help: "Writes answered from their idempotency key's stored result instead of running again.",
    registers: [registry],
  });
  const commitWrites = new Histogram({
    name: 'course_commit_writes',
    help: 'Writes per commit on this primary (group commit gathers concurrent writes into one).',
    buckets: BatchBuckets,
    registers: [registry],
  });
  const commitSeconds = new Histogram({
    name: 'course_commit_seconds',
    help: "A commit's transaction on the writer, from BEGIN to reading its new TXID.",
    buckets: LatencyBuckets,
    registers: [registry],
  });
  const roles = new Gauge({
    name: 'course_role',
    help: "This node's LiteFS role: 1 for the one it has, 0 otherwise (a replica too far behind keeps it, but stops reporting role.replica to health checks).",
    labelNames: ['role'],
    registers: [registry],
  });
  const commitTimestamp = new Gauge({
    name: 'course_commit_timestamp_seconds',
    help: "When the primary made the newest commit of each database this node has (LiteFS's timestamp, the primary's clock).",
    labelNames: ['db'],
    registers: [registry],
  });
  const visible = new Histogram({
    name: 'course_commit_visible_seconds',
    help: "For each commit: from the primary's LiteFS stamping it to this process learning a read here sees it (on a replica, replication lag).",
    labelNames: ['db'],
    buckets: LatencyBuckets,
    registers: [registry],
  });
  /** The newest TXID whose timestamp the gauge holds, per database: an older one arriving late does not move it back. */
  const newest = new Map<string, bigint>();
  const lag = new Gauge({
    name: 'course_replica_lag_seconds',
    help: "How long ago this node last heard from its primary (LiteFS's .lag: a transaction or a heartbeat); 0 on the primary, -1 when unknown.",
    registers: [registry],
  });
  const positions = opts.positions ?? {};
  new Gauge({
    name: 'course_txid',
    help: "The LiteFS transaction id of this node's copy of each database.",
    labelNames: ['db'],
    registers: [registry],
    collect() {
      for (const [db, position] of Object.entries(positions)) this.set({ db }, Number(position()));
    },
  });

  return {
    registry,
    call(path, code, seconds) {
      const [service = '', method = ''] = path.slice(1).split('/');
      handled.inc({ grpc_service: service, grpc_method: method, grpc_code: code });
      handling.observe({ grpc_service: service, grpc_method: method }, seconds);
    },
    forwarded(code, waitSeconds) {
      forwarded.inc({ grpc_code: code });
      if (waitSeconds !== undefined) forwardWait.observe(waitSeconds);
    },
    replayed: () => replays.inc(),
    commit(stats) {
      commitWrites.observe(stats.writes);
      commitSeconds.observe(stats.ms / 1000);
    },
    applied(commit) {
      if (commit.txid > (newest.get(commit.db) ?? -1n)) {
        newest.set(commit.db, commit.txid);
        commitTimestamp.set({ db: commit.db }, commit.committedAt / 1000);
      }
      // Clocks of different machines may disagree by a little: a time below zero is counted as none.
      visible.observe({ db: commit.db }, Math.max(0, commit.seenAt - commit.committedAt) / 1000);
    },
    replicaLag(ms) {
      lag.set(ms === undefined ? -1 : ms / 1000);
    },
    role(primary) {
      roles.set({ role: 'primary' }, primary === true ? 1 : 0);
      roles.set({ role: 'replica' }, primary === false ? 1 : 0);
    },
  };
}

/**
 * `writer`, telling `metrics` of each of its commits once. The writes of one
 * commit share its stats and come back one after another (a writer commits
 * one batch at a time), so a commit is new when its number changes. A batch
 * whose every write failed answers no result, so it is not seen; it wrote
 * nothing either (each failure rolled back to its savepoint), so LiteFS saw
 * no transaction.
 */
export function observingCommits(writer: Writer, metrics: Pick<ServiceMetrics, 'commit'>): Writer {
  let last: CommitStats | undefined;
  return {
    async run(op, args) {
      const result = await writer.run(op, args);
      const stats = result.commit;
      if (!last || stats.seq !== last.seq || stats.writer !== last.writer) {
        last = stats;
        metrics.commit(stats);
      }
      return result;
    },
    close: () => writer.close(),
  };
}

/**
 * Serves `GET /metrics` (the registry's text format) on `addr` (host:port);
 * anything else gets 404. Resolves once listening.
 */
export function serveMetrics(registry: Registry, addr: string): Promise<Server> {
  const colon = addr.lastIndexOf(':');
  const host = addr.slice(0, colon);
  const port = Number(addr.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`a metrics address must be host:port, got ${addr}`);
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: GET /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      () => res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics unavailable\n'),
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

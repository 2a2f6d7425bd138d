/**
 * The composition every service's main shares: node config, logger, LiteFS
 * role, database (migrated on the primary, awaited on a replica), writer,
 * forwarding (both ends), the gRPC server with health and reflection, a second
 * server on a Unix socket for what only the node's other service may call, the
 * metrics (lib/metrics.ts) on a port of their own, and a clean shutdown on
 * SIGINT/SIGTERM.
 */
import { lstatSync, unlinkSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation } from 'grpc-health-check';
import { env, loadNodeConfig, optionalEnv, parsePeers, type NodeConfig } from '../config.js';
import { LiteFsNode } from '../litefs.js';
import { createAccessLogger, createLogger, type Logger } from '../log.js';
import { openDatabase, type OpenedDb } from '../sqlite.js';
import { autocommitReads, sharedReads, type ReadScope } from '../shared-reads.js';
import { encodeShared } from '../shared-answers.js';
import { createWriter, type WriteOp, type Writer } from '../writer.js';
import { createThreadWriter } from '../writer-thread.js';
import { inlineReader, type ReadFn } from '../reader.js';
import { createThreadReader } from '../reader-thread.js';
import { Forwarder } from './forward.js';
import { ForwardingServer } from './forward-server.js';
import { unavailable } from '../errors.js';
import { bindService, currentCall, forwardedRoutes, type MethodImpl, type Runtime } from './handler.js';
import { unknownKeysRetryableWhenBehind, type TokenVerifier } from './identity.js';
import { loadProto, serviceClient } from './proto.js';
import { createMetrics, observingCommits, serveMetrics, type ServiceMetrics } from '../metrics.js';
import type { Server as HttpServer } from 'node:http';

/** Largest request a service accepts (Envoy caps HTTP bodies lower still). */
export const MaxMessageBytes = 256 * 1024;
/** How long shutdown waits for in-flight calls before cutting them. */
export const ShutdownGraceMs = 5_000;
/**
 * Extra health-check names that report the node's LiteFS role: SERVING on a node of
 * that role, NOT_SERVING elsewhere. Envoy health-checks them to send writes to the
 * primary and reads to the replicas (deploy/envoy/envoy.yaml, *_primary, *_replica).
 */
export const RoleHealthNames = { primary: 'role.primary', replica: 'role.replica' } as const;
/** How often the role reported to health checks is refreshed from LiteFS. */
export const RoleRefreshMs = 1_000;

/** The module defining the idempotency-key wrapper's write, for the writer thread. */
const IdempotencyOpsModule = new URL('../idempotency.js', import.meta.url).href;

export interface ServiceSpec {
  /** Short name for logs: "auth", "enroll". */
  name: string;
  /** Proto file under proto/. */
  protoFile: string;
  /** The database file in the LiteFS mount. */
  dbName: string;
  migrations: readonly string[];
  /**
   * Modules (URLs) whose import defines every read and write operation the
   * service runs (`defineRead`, `defineWrite`): the reader and writer threads
   * import them to run operations by name.
   */
  opsModules: string[];
  /**
   * Whether its write calls may carry an `idempotency-key`: the database has
   * the table (`IdempotencyKeysTable` in a migration) and its domain makes
   * each request's write through `requestWrite` (lib/idempotency.ts).
   */
  idempotencyKeys?: boolean;
  /** Environment variable names of the listen address and the peers map. */
  addrEnv: string;
  peersEnv: string;
  /**
   * Environment variable naming the node-local address (`unix:/path`) of the
   * services added with `{ nodeLocal: true }`. A Unix socket is reachable only
   * from this machine's file system, never from the network, whatever address
   * the public server binds; Envoy and other nodes never see these services.
   */
  nodeLocalAddrEnv?: string;
  /**
   * Environment variable naming the host:port where the service serves its
   * metrics (`GET /metrics`, lib/metrics.ts); unset or empty, none are served.
   */
  metricsAddrEnv?: string;
}

export interface AddServiceOptions {
  /** Serve it only on the node-local socket (`ServiceSpec.nodeLocalAddrEnv`), not on the public port. */
  nodeLocal?: boolean;
}

export interface StartedService {
  config: NodeConfig;
  log: Logger;
  node: LiteFsNode;
  db: OpenedDb;
  writer?: Writer;
  /** To enter before reading `db.read` (a shared snapshot per turn on a replica). */
  reads: ReadScope;
  /** The read function to inject into a domain: on the reader thread (READ_THREAD=on), or on `db.read` within `reads`. */
  read: ReadFn;
  isPrimary: boolean;
  server: grpc.Server;
  /** The node-local server, once a service was added to it. */
  nodeLocalServer?: grpc.Server;
  health: HealthImplementation;
  grpcObject: grpc.GrpcObject;
  /** What the process counts (lib/metrics.ts): a service may register more in `metrics.registry`. */
  metrics: ServiceMetrics;
  /**
   * Registers a service of the loaded proto (dotted name) with its method table. Its
   * token checks go through `verifier`; while the node is not current, a token naming a
   * key it lacks is answered UNAVAILABLE (unknownKeysRetryableWhenBehind).
   */
  addService(dotted: string, impls: Record<string, MethodImpl>, verifier: TokenVerifier, opts?: AddServiceOptions): void;
  /** Binds the port (and the node-local socket, if used) and marks every public service SERVING. */
  listen(): Promise<number>;
  /**
   * The write function to inject into a domain: inside an RPC it goes through
   * the call (so the response carries the TXID); outside one (start-up and
   * background work on the primary) straight to the writer.
   */
  write<A, R>(op: WriteOp<A, R>, args: A): Promise<R>;
  /**
   * The write function for a request's own write (at most one per call):
   * `write`, with the caller's idempotency key applied when the service
   * honours keys (`CallContext.requestWrite`).
   */
  requestWrite<A, R>(op: WriteOp<A, R>, args: A): Promise<R>;
  /** Runs `fn` on SIGINT/SIGTERM before the server and database close. */
  onShutdown(fn: () => void | Promise<void>): void;
  /**
   * Whether this node offers its role (as its role health says): the primary, or a
   * replica within `REPLICA_MAX_LAG_MS` of it. False while LiteFS is unreachable.
   */
  isCurrent(): boolean;
}

export async function startService(spec: ServiceSpec): Promise<StartedService> {
  const config = loadNodeConfig();
  const log = createLogger(spec.name, config.nodeName);
  const accessLog = createAccessLogger(spec.name, config.nodeName);
  const node = new LiteFsNode(config.mountDir, config.litefsApi);
  node.watch();
  const isPrimary = await waitForRole(node, log);
  log.info({ isPrimary, mount: config.mountDir, writeMode: config.writeMode, batchDelayMs: config.batchDelayMs, readMode: config.readMode, writerThread: config.writerThread, readMemo: config.readMemo, readThread: config.readThread }, 'starting');

  const metrics = createMetrics({ service: spec.name, node: config.nodeName, positions: { [spec.dbName]: () => node.position(spec.dbName) } });
  node.onApplied((commit) => {
    if (commit.db === spec.dbName) metrics.applied(commit);
  });
  const db = await openDatabase({ mountDir: config.mountDir, name: spec.dbName, migrations: spec.migrations, isPrimary, writeHere: !config.writerThread, log });
  const batching = { mode: config.writeMode, maxBatch: config.maxBatch, delayMs: config.batchDelayMs };
  let writer: Writer | undefined;
  if (isPrimary && config.writerThread) {
    // The key's wrapper (lib/idempotency.ts) runs on the writer thread too.
    const opsModules = spec.idempotencyKeys ? [...spec.opsModules, IdempotencyOpsModule] : spec.opsModules;
    writer = createThreadWriter({ ...batching, path: db.path, opsModules, log, onCommit: (txid) => node.learn(spec.dbName, txid) });
  } else if (db.write) {
    writer = createWriter(db.write, { ...batching, position: () => node.position(spec.dbName) });
  }
  if (writer) writer = observingCommits(writer, metrics);
  const reads =
    isPrimary || config.readMode === 'per-statement' ? autocommitReads : sharedReads(db.read, () => node.known(spec.dbName));
  // The thread starts at the first read: a service that reads only through `db.read` has none.
  const reader = config.readThread ? createThreadReader({ path: db.path, opsModules: spec.opsModules, log }) : inlineReader(db.read, reads);
  const forwarder = new Forwarder(config.nodeName, parsePeers(env(spec.peersEnv)), config.forwardMode, log);
  const forwarding = new ForwardingServer();

  const { packageDefinition, grpcObject } = loadProto(spec.protoFile);
  const server = new grpc.Server({
    'grpc.max_receive_message_length': MaxMessageBytes,
  });
  const health = new HealthImplementation({ '': 'NOT_SERVING' });
  health.addToServer(server);
  new ReflectionService(packageDefinition).addToServer(server);
  // Node to node: writes that replicas forward on a stream (Envoy routes no path of it).
  server.addService(ForwardingServer.definition, forwarding.implementation());

  const serviceNames: string[] = [];
  const shutdownHooks: Array<() => void | Promise<void>> = [];
  let roleTimer: NodeJS.Timeout | undefined;
  /** The node is the primary, or a replica that heard from it lately: what it serves is current. */
  let current = false;
  /**
   * Role health: `undefined` (LiteFS unreachable, or stopping) claims neither
   * role, and a replica `behind` its primary does not claim its own, so that
   * Envoy reads from the replicas that are current (or, when none is, from
   * any node: reads go on with the primary down).
   */
  const reportRole = (primary: boolean | undefined, behind = false) => {
    current = primary === true || (primary === false && !behind);
    metrics.role(primary);
    health.setStatus(RoleHealthNames.primary, primary === true ? 'SERVING' : 'NOT_SERVING');
    health.setStatus(RoleHealthNames.replica, primary === false && !behind ? 'SERVING' : 'NOT_SERVING');
  };
  let wasBehind = false;
  /** Asks LiteFS for the node's role and, on a replica, how long ago it last heard from the primary. */
  const refreshRole = async (): Promise<void> => {
    const primary = await node.describe().then(
      (info) => info.isPrimary,
      () => undefined,
    );
    const lagMs = primary === false ? await node.lagMs() : 0;
    if (stopping) return;
    metrics.replicaLag(lagMs);
    const behind = primary === false && config.replicaMaxLagMs > 0 && (lagMs === undefined || lagMs > config.replicaMaxLagMs);
    if (behind !== wasBehind) {
      wasBehind = behind;
      if (behind) log.warn({ lagMs: lagMs ?? null, maxLagMs: config.replicaMaxLagMs }, 'this replica has not heard from its primary for too long: it stops offering reads to Envoy');
      else log.info({ lagMs }, 'this replica hears from its primary again: it offers reads to Envoy');
    }
    reportRole(primary, behind);
  };

  const nodeLocalNames: string[] = [];
  let metricsServer: HttpServer | undefined;
  const started: StartedService = {
    config, log, node, db, writer, reads, isPrimary, server, health, grpcObject, metrics,
    read: reader.run,
    addService(dotted, impls, tokens, opts = {}) {
      // While this node is behind, a token from a key it has not received yet is retryable.
      const verifier = unknownKeysRetryableWhenBehind(tokens, () => current);
      const runtime: Runtime = { node, dbName: spec.dbName, db: db.read, writer, forwarder, verifier, log, accessLog, idempotencyKeys: spec.idempotencyKeys, metrics };
      const ctor = serviceClient(grpcObject, dotted);
      const service = encodingSharedAnswersOnce(ctor.service);
      if (opts.nodeLocal) {
        // Reads only: a write would have to be forwarded, and forwarding goes over the network.
        if (Object.values(impls).some((impl) => impl.kind === 'write')) throw new Error(`${dotted}: a node-local service cannot write`);
        if (!spec.nodeLocalAddrEnv) throw new Error(`${dotted}: ${spec.name} has no node-local address`);
        started.nodeLocalServer ??= new grpc.Server({ 'grpc.max_receive_message_length': MaxMessageBytes });
        started.nodeLocalServer.addService(service, bindService(runtime, service, impls));
        nodeLocalNames.push(dotted);
        return;
      }
      server.addService(service, bindService(runtime, service, impls));
      forwarding.addRoutes(forwardedRoutes(runtime, ctor.service, impls));
      serviceNames.push(dotted);
    },
    async listen() {
      const addr = env(spec.addrEnv);
      const port = await bind(server, addr);
      if (started.nodeLocalServer) {
        const local = env(spec.nodeLocalAddrEnv!);
        if (!local.startsWith('unix:')) throw new Error(`${spec.nodeLocalAddrEnv} must be a Unix socket (unix:/path), got ${local}`);
        removeStaleSocket(local.slice('unix:'.length));
        await bind(started.nodeLocalServer, local);
        log.info({ addr: local, services: nodeLocalNames }, 'listening on the node-local socket');
      }
      const metricsAddr = spec.metricsAddrEnv ? optionalEnv(spec.metricsAddrEnv) : undefined;
      if (metricsAddr) {
        metricsServer = await serveMetrics(metrics.registry, metricsAddr);
        log.info({ addr: metricsAddr }, 'serving metrics');
      }
      for (const name of ['', ...serviceNames]) health.setStatus(name, 'SERVING');
      await refreshRole();
      roleTimer = setInterval(() => void refreshRole(), RoleRefreshMs).unref();
      log.info({ addr, services: serviceNames }, 'listening');
      return port;
    },
    onShutdown(fn) {
      shutdownHooks.push(fn);
    },
    isCurrent: () => current,
    async write<A, R>(op: WriteOp<A, R>, args: A): Promise<R> {
      const call = currentCall();
      if (call) return call.write(op, args);
      if (!writer) throw unavailable('this node is not the primary: retry');
      return (await writer.run(op, args)).value;
    },
    async requestWrite<A, R>(op: WriteOp<A, R>, args: A): Promise<R> {
      const call = currentCall();
      return call ? call.requestWrite(op, args) : started.write(op, args);
    },
  };

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    clearInterval(roleTimer);
    reportRole(undefined);
    for (const name of ['', ...serviceNames]) health.setStatus(name, 'NOT_SERVING');
    for (const hook of shutdownHooks) await hook();
    forwarding.drain();
    await Promise.all([server, started.nodeLocalServer].map((s) => s && drain(s)));
    forwarder.close();
    metricsServer?.close();
    await reader.close();
    await writer?.close();
    node.close();
    db.close();
    log.info('stopped');
    process.exit(0);
  };
  // `on`, not `once`: under foreman or LiteFS the signal arrives twice (once to the whole
  // process group, once more from the node supervisor), and a second signal with no
  // handler left would kill the process in the middle of draining.
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));

  return started;
}

/** Stops taking calls and waits for those in flight, for up to ShutdownGraceMs. */
function drain(server: grpc.Server): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, ShutdownGraceMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** A socket file left by a process that was killed would refuse the bind; anything else at the path stays. */
function removeStaleSocket(path: string): void {
  try {
    if (lstatSync(path).isSocket()) unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

function bind(server: grpc.Server, addr: string): Promise<number> {
  return new Promise<number>((resolve, reject) =>
    server.bindAsync(addr, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
}

/** LiteFS starts us only once the node is ready, but its API may lag a moment. */
async function waitForRole(node: LiteFsNode, log: Logger): Promise<boolean> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await node.isPrimary();
    } catch (err) {
      if (attempt === 50) throw err;
      if (attempt === 0) log.info('waiting for the LiteFS API');
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/** `definition` with each method's response serializer reusing the bytes of shared answers (lib/shared-answers.ts). */
function encodingSharedAnswersOnce(definition: grpc.ServiceDefinition): grpc.ServiceDefinition {
  return Object.fromEntries(
    Object.entries(definition).map(([name, method]) => [name, { ...method, responseSerialize: encodeShared(method.responseSerialize) }]),
  );
}

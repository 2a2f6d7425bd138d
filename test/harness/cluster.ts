// Programmatic control of the real local cluster for end-to-end tests.
//
// The cluster is started exactly as the Procfile starts it (`bash scripts/node.sh N`,
// `bash scripts/envoy.sh`), each process as its own detached process group, with a fresh
// CLUSTER_DIR per run under var/test-runs/ and its output in CLUSTER_DIR/logs/*.log.
// The ports are the fixed ones of docs/DESIGN.md, so one cluster runs at a time.
//
// Clean-up is layered so that no FUSE mount or process outlives a test run:
//   stop()                  SIGTERM each group, wait, SIGKILL stragglers, unmount (always)
//   exit/SIGINT/SIGTERM     the same, synchronously, from process hooks
//   a watchdog process      the same once the test process has died (even by SIGKILL)
//   the next startCluster() reaps runs whose owner is dead (if the watchdog died too)
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before } from 'node:test';
import { fetchText, jwksFetches } from '../../lib/cluster-ready.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

/** Repository root, from this file's compiled location (dist/test/harness/cluster.js). */
export const REPO_DIR = fileURLToPath(new URL('../../../', import.meta.url)).replace(/\/$/, '');

export const ENVOY_PORT = 8080;
export const ENVOY_ADMIN_PORT = 9901;
/** Envoy clusters whose hosts must all be healthy before the cluster counts as ready. */
export const DEFAULT_ENVOY_CLUSTERS = ['auth_grpc', 'enroll_grpc', 'auth_primary', 'enroll_primary', 'auth_replica', 'enroll_replica'];
/** How long a process group gets after SIGTERM (services drain up to 10 s, then LiteFS unmounts). */
const STOP_TIMEOUT_MS = 20_000;
const RUNS_DIR = join(REPO_DIR, 'var', 'test-runs');
/** Finished runs whose directories (logs, data) are kept for inspection. */
const KEEP_RUNS = 3;

export type NodeNumber = 1 | 2 | 3;

/** One node's addresses (docs/DESIGN.md, Ports). */
export interface NodeInfo {
  name: string;
  litefsApi: string;
  authGrpc: string;
  authJwks: string;
  enrollGrpc: string;
  /** Where each service serves its metrics (host:port, `GET /metrics`). */
  authMetrics: string;
  enrollMetrics: string;
  /** The auth service's node-local socket (`unix:…`), where alone it serves the user directory. */
  authDirectory: string;
  /** The node's LiteFS FUSE mount (auth.db, enroll.db). */
  mount: string;
}

export interface Credentials {
  username: string;
  password: string;
}

export interface ClusterOptions {
  /** Start Envoy too (default true). Without it, readiness waits for the services' ports instead. */
  envoy?: boolean;
  /**
   * Readiness check polled once every node's LiteFS is in place. When given, it replaces
   * the default check (Envoy sees all hosts of `envoyClusters` healthy; without Envoy,
   * every service port accepts connections).
   */
  ready?: (cluster: Cluster) => Promise<boolean>;
  /** Envoy clusters checked by the default readiness check. */
  envoyClusters?: string[];
  /** How long startCluster() waits for readiness (default 90 s). */
  startTimeoutMs?: number;
  /** First registrar (default: username `registrar`, a random password per run). */
  registrar?: Credentials;
  /** Extra environment for every process (e.g. WRITE_MODE, LOG_LEVEL). */
  env?: Record<string, string>;
}

export interface WaitOptions {
  /** Poll interval (default 100 ms). */
  intervalMs?: number;
  /** What is being waited for, for the timeout error. */
  what?: string;
}

export interface Cluster {
  /** This run's CLUSTER_DIR. */
  readonly dir: string;
  readonly logsDir: string;
  readonly registrar: Credentials;
  /** http://127.0.0.1:8080: HTTP/JSON and gRPC (h2c). */
  readonly envoyUrl: string;
  readonly envoyAdminUrl: string;
  /** nodes[0] is node1 (the primary). */
  readonly nodes: readonly NodeInfo[];
  node(n: NodeNumber): NodeInfo;
  /** Stops node n (its services, then LiteFS) and unmounts its mount. */
  stopNode(n: NodeNumber): Promise<void>;
  /** Kills node n as a crash would: SIGKILL to LiteFS, its supervisor and services at once; then clears its mount. */
  killNode(n: NodeNumber): Promise<void>;
  /** Starts node n again (same data dir) and waits until it is ready. */
  startNode(n: NodeNumber, opts?: { timeoutMs?: number }): Promise<void>;
  isRunning(n: NodeNumber): boolean;
  /** Stops everything and unmounts all mounts. Idempotent; always unmounts. */
  stop(): Promise<void>;
  /** Polls until predicate returns a truthy value; the timeout error carries the logs' tails. */
  waitUntil<T>(predicate: () => T | Promise<T>, timeoutMs: number, opts?: WaitOptions): Promise<T>;
  /** The last lines of every log (or of one: 'node1'..'node3', 'envoy'). */
  logTail(name?: string, lines?: number): string;
  /** The JSON lines of one log ('node1'..'node3': the services' own lines), parsed, oldest first. */
  logEntries(name: string): Array<Record<string, unknown>>;
  /** Whether Envoy reports every host of the given clusters healthy (optionally only one node's hosts). */
  envoyHealthy(clusters?: string[], node?: NodeNumber): Promise<boolean>;
}

export function nodeInfo(n: NodeNumber, dir: string): NodeInfo {
  return {
    name: `node${n}`,
    litefsApi: `http://127.0.0.1:${20200 + n}`,
    authGrpc: `127.0.0.1:${7100 + n}`,
    authJwks: `127.0.0.1:${7110 + n}`,
    enrollGrpc: `127.0.0.1:${7200 + n}`,
    authMetrics: `127.0.0.1:${7120 + n}`,
    enrollMetrics: `127.0.0.1:${7220 + n}`,
    authDirectory: `unix:${join(dir, `node${n}`, 'auth.sock')}`,
    mount: join(dir, `node${n}`, 'mnt'),
  };
}

const ALL_PORTS = [
  ENVOY_PORT, ENVOY_ADMIN_PORT,
  20201, 20202, 20203, 7101, 7102, 7103, 7111, 7112, 7113, 7121, 7122, 7123, 7201, 7202, 7203, 7221, 7222, 7223,
];

/** Thrown by a predicate to end a wait at once instead of retrying. */
export class Fatal extends Error {}

/** Polls until predicate returns a truthy value, or rejects after timeoutMs. */
export async function waitUntil<T>(
  predicate: () => T | Promise<T>,
  timeoutMs: number,
  opts: WaitOptions = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await predicate();
      if (value) return value;
    } catch (err) {
      if (err instanceof Fatal) throw err;
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const cause = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${opts.what ?? 'a condition'}${cause}`);
    }
    await sleep(opts.intervalMs ?? 100);
  }
}

/** The parts of LiteFS's GET /info the harness reads. */
export interface LitefsInfo {
  isPrimary: boolean;
  /** On a replica: the primary it is connected to (empty hostname while not connected). */
  primary?: { hostname?: string };
}

/** Whether a node's LiteFS is up and in its place: node1 primary, a replica connected to it. */
export async function litefsReady(node: NodeInfo): Promise<boolean> {
  const info = await litefsInfo(node.litefsApi);
  if (!info) return false;
  return node.name === 'node1' ? info.isPrimary : info.primary?.hostname === 'node1';
}

/** Whether something accepts TCP connections on host:port. */
export async function listening(addr: string): Promise<boolean> {
  const [host, port] = addr.split(':');
  return (await portsInUse([Number(port)], host)).length > 0;
}

/** The JSON of GET /info from a LiteFS API, or undefined when it does not answer. */
export async function litefsInfo(apiUrl: string): Promise<LitefsInfo | undefined> {
  try {
    const res = await fetch(`${apiUrl}/info`, { signal: AbortSignal.timeout(1000) });
    return res.ok ? ((await res.json()) as LitefsInfo) : undefined;
  } catch {
    return undefined;
  }
}

/** Starts the cluster and waits until it is ready. */
export async function startCluster(opts: ClusterOptions = {}): Promise<Cluster> {
  if (!existsSync('/dev/fuse')) {
    throw new Error('/dev/fuse is missing: LiteFS cannot mount (load the fuse module, or give the container --device /dev/fuse --cap-add SYS_ADMIN)');
  }
  for (const script of ['scripts/node.sh', 'scripts/envoy.sh']) {
    if (!existsSync(join(REPO_DIR, script))) throw new Error(`${script} not found under ${REPO_DIR}`);
  }
  reapDeadRuns();
  const busy = await portsInUse(opts.envoy === false ? ALL_PORTS.slice(2) : ALL_PORTS);
  if (busy.length > 0) {
    throw new Error(`a cluster is already running (127.0.0.1 ports in use: ${busy.join(', ')}): stop it first`);
  }
  const cluster = new LocalCluster(opts);
  try {
    await cluster.start();
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}

/**
 * node:test helper: starts the cluster in a `before` hook and stops it in an `after` hook
 * of the current suite (or file). Read `.cluster` inside tests.
 */
export function useCluster(opts: ClusterOptions = {}): { readonly cluster: Cluster } {
  let cluster: Cluster | undefined;
  before(async () => {
    cluster = await startCluster(opts);
  });
  after(async () => {
    await cluster?.stop();
  });
  return {
    get cluster(): Cluster {
      if (!cluster) throw new Error('the cluster is not started (use .cluster inside tests, after the before hook)');
      return cluster;
    },
  };
}

/**
 * useCluster, with node2's LiteFS streaming from the primary's through a TCP proxy
 * (scripts/node.sh, LITEFS_PRIMARY_URL_2) that starts before the cluster and closes
 * after it, so that a test can cut node2 off alone: `proxy()` inside a test.
 */
export function useClusterWithNode2Proxied(opts: ClusterOptions = {}): { readonly cluster: Cluster; proxy(): TcpProxy } {
  const env: Record<string, string> = { ...opts.env };
  let proxy: TcpProxy | undefined;
  before(async () => {
    proxy = await startTcpProxy({ host: '127.0.0.1', port: Number(new URL(nodeInfo(1, '').litefsApi).port) });
    env.LITEFS_PRIMARY_URL_2 = `http://127.0.0.1:${proxy.port}`;
  });
  const started = useCluster({ ...opts, env });
  after(() => proxy?.close());
  return {
    get cluster(): Cluster {
      return started.cluster;
    },
    proxy(): TcpProxy {
      if (!proxy) throw new Error('the proxy is not started (use proxy() inside tests, after the before hook)');
      return proxy;
    },
  };
}

// ---------------------------------------------------------------------------------------

type ProcName = 'node1' | 'node2' | 'node3' | 'envoy';

const active = new Set<LocalCluster>();
let runCount = 0;

class LocalCluster implements Cluster {
  readonly dir: string;
  readonly logsDir: string;
  readonly registrar: Credentials;
  readonly envoyUrl = `http://127.0.0.1:${ENVOY_PORT}`;
  readonly envoyAdminUrl = `http://127.0.0.1:${ENVOY_ADMIN_PORT}`;
  readonly nodes: readonly NodeInfo[];
  private readonly procs = new Map<ProcName, ChildProcess>();
  /** Processes that exited without being asked to: readiness waits fail fast on them. */
  private readonly crashed = new Map<ProcName, string>();
  private readonly env: NodeJS.ProcessEnv;
  private watchdog: ChildProcess | undefined;
  private stopped = false;

  constructor(private readonly opts: ClusterOptions) {
    const time = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '');
    const id = `${time}-${process.pid}-${++runCount}`;
    this.dir = join(RUNS_DIR, id);
    this.logsDir = join(this.dir, 'logs');
    this.registrar = opts.registrar ?? { username: 'registrar', password: randomBytes(18).toString('hex') };
    this.nodes = ([1, 2, 3] as const).map((n) => nodeInfo(n, this.dir));
    this.env = {
      ...process.env,
      ...opts.env,
      CLUSTER_DIR: this.dir,
      REGISTRAR_USERNAME: this.registrar.username,
      REGISTRAR_PASSWORD: this.registrar.password,
    };
    // Set by `node --test` for its child processes; not meant for the services.
    delete this.env.NODE_TEST_CONTEXT;
  }

  node(n: NodeNumber): NodeInfo {
    return this.nodes[n - 1];
  }

  isRunning(n: NodeNumber): boolean {
    return this.procs.has(`node${n}`);
  }

  async start(): Promise<void> {
    mkdirSync(this.logsDir, { recursive: true });
    writeFileSync(join(this.dir, 'harness.json'), JSON.stringify({ ownerPid: process.pid }) + '\n');
    active.add(this);
    installProcessHooks();
    this.startWatchdog();
    for (const n of [1, 2, 3] as const) this.spawn(`node${n}`, ['scripts/node.sh', String(n)]);
    if (this.opts.envoy !== false) this.spawn('envoy', ['scripts/envoy.sh']);
    await this.waitReady(this.opts.startTimeoutMs ?? 90_000);
  }

  async stopNode(n: NodeNumber): Promise<void> {
    await this.stopProc(`node${n}`);
    unmount(this.node(n).mount);
  }

  async killNode(n: NodeNumber): Promise<void> {
    if (!this.procs.has(`node${n}`)) throw new Error(`node${n} is not running`);
    await this.stopProc(`node${n}`, { crash: true });
    unmount(this.node(n).mount);
  }

  async startNode(n: NodeNumber, opts: { timeoutMs?: number } = {}): Promise<void> {
    const name: ProcName = `node${n}`;
    if (this.procs.has(name)) throw new Error(`${name} is already running`);
    if (this.stopped) throw new Error('the cluster is stopped');
    unmount(this.node(n).mount);
    this.crashed.delete(name);
    this.spawn(name, ['scripts/node.sh', String(n)]);
    await this.waitReady(opts.timeoutMs ?? 60_000, n);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    try {
      await Promise.all([...this.procs.keys()].map((name) => this.stopProc(name)));
    } finally {
      for (const node of this.nodes) unmount(node.mount);
      this.watchdog?.kill('SIGKILL');
      active.delete(this);
    }
  }

  waitUntil<T>(predicate: () => T | Promise<T>, timeoutMs: number, opts: WaitOptions = {}): Promise<T> {
    return waitUntil(predicate, timeoutMs, opts).catch((err: Error) => {
      throw new Error(`${err.message}\n${this.logTail()}`);
    });
  }

  logTail(name?: string, lines = 30): string {
    const names = name ? [name] : readdirSafe(this.logsDir).filter((f) => f.endsWith('.log')).map((f) => f.slice(0, -4)).sort();
    return names
      .map((log) => {
        let text: string;
        try {
          text = readFileSync(join(this.logsDir, `${log}.log`), 'utf8');
        } catch {
          text = '(no log)';
        }
        const tail = text.trimEnd().split('\n').slice(-lines).join('\n');
        return `--- ${join(this.logsDir, `${log}.log`)} (last ${lines} lines) ---\n${tail}`;
      })
      .join('\n');
  }

  logEntries(name: string): Array<Record<string, unknown>> {
    const entries: Array<Record<string, unknown>> = [];
    for (const line of readFileSync(join(this.logsDir, `${name}.log`), 'utf8').split('\n')) {
      const start = line.indexOf('{');
      if (start < 0) continue;
      try {
        entries.push(JSON.parse(line.slice(start)) as Record<string, unknown>);
      } catch {
        // another process's text that happens to hold a brace: not a service line
      }
    }
    return entries;
  }

  async envoyHealthy(clusters = this.opts.envoyClusters ?? DEFAULT_ENVOY_CLUSTERS, node?: NodeNumber): Promise<boolean> {
    const res = await fetch(`${this.envoyAdminUrl}/clusters`, { signal: AbortSignal.timeout(1000) });
    if (!res.ok) return false;
    const text = await res.text();
    const hostsOf = (nodes: readonly NodeNumber[]) => new Set(nodes.flatMap((n) => [this.node(n).authGrpc, this.node(n).enrollGrpc, this.node(n).authJwks]));
    const wanted = node === undefined ? undefined : hostsOf([node]);
    // A role cluster (*_primary, *_replica) holds every node, but only those of its
    // role pass its health check: node1 is the primary here (deploy/litefs).
    const ofRole = (name: string) => (name.endsWith('_primary') ? hostsOf([1]) : name.endsWith('_replica') ? hostsOf([2, 3]) : undefined);
    return clusters.every((name) => {
      const role = ofRole(name);
      // Lines look like: auth_grpc::127.0.0.1:7101::health_flags::healthy
      const flags = text
        .split('\n')
        .map((line) => line.split('::'))
        .filter(([c, host, key]) => c === name && key === 'health_flags' && (!wanted || wanted.has(host!)) && (!role || role.has(host!)))
        .map((parts) => parts[3]);
      if (role && wanted && flags.length === 0) return true; // `node` has another role
      return flags.length > 0 && flags.every((f) => f === 'healthy');
    });
  }

  // --- internals -----------------------------------------------------------------------

  private async envoyFetchedJwks(): Promise<boolean> {
    return jwksFetches((await fetchText(`${this.envoyAdminUrl}/stats?filter=jwks_fetch_success`, 1000)) ?? '') > 0;
  }

  /**
   * Ready = every node's LiteFS is in place (node1 primary, replicas connected), then the
   * caller's check if given, else Envoy sees every host healthy, else (no Envoy) every
   * service port accepts connections. A single node restarting must also accept
   * connections on its service ports first.
   */
  private async waitReady(timeoutMs: number, only?: NodeNumber): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const left = () => Math.max(deadline - Date.now(), 0);
    const nodes = only ? [this.node(only)] : this.nodes;
    const which = only ? `node${only}` : 'every node';
    await this.waitFor(async () => (await Promise.all(nodes.map(litefsReady))).every(Boolean), left(),
      `${which}'s LiteFS (node1 primary, replicas connected)`);
    const addrs = nodes.flatMap((n) => [n.authGrpc, n.authJwks, n.enrollGrpc]);
    if (only) {
      // Envoy's view of a node it has not yet seen go down is stale: see the ports first.
      await this.waitFor(async () => (await Promise.all(addrs.map(listening))).every(Boolean), left(),
        `${which}'s services to listen (${addrs.join(', ')})`);
    }
    if (this.opts.ready) {
      await this.waitFor(() => this.opts.ready!(this), left(), 'the caller-supplied readiness check');
    } else if (this.opts.envoy !== false) {
      const clusters = this.opts.envoyClusters ?? DEFAULT_ENVOY_CLUSTERS;
      await this.waitFor(() => this.envoyHealthy(clusters, only), left(), `Envoy to see ${which}'s hosts of ${clusters.join(', ')} healthy`);
      // Until its first fetch of the JWKS succeeds, Envoy refuses every token (a fetch made
      // before the auth service listened failed, and is retried every second).
      if (!only) await this.waitFor(() => this.envoyFetchedJwks(), left(), 'Envoy to fetch the JWKS');
    } else {
      await this.waitFor(async () => (await Promise.all(addrs.map(listening))).every(Boolean), left(),
        `${which}'s services to listen (${addrs.join(', ')})`);
    }
  }

  /** waitUntil that also fails as soon as a process has crashed. */
  private waitFor<T>(predicate: () => T | Promise<T>, timeoutMs: number, what: string): Promise<T> {
    return this.waitUntil(async () => {
      if (this.crashed.size > 0) {
        const [[name, how]] = [...this.crashed];
        throw new Fatal(`${name} exited (${how}) while waiting for ${what}`);
      }
      return predicate();
    }, timeoutMs, { what });
  }

  private spawn(name: ProcName, args: string[]): void {
    const log = openSync(join(this.logsDir, `${name}.log`), 'a');
    const child = spawn('bash', args, {
      cwd: REPO_DIR,
      env: this.env,
      detached: true, // its own process group: signals reach LiteFS, the services and Envoy together
      stdio: ['ignore', log, log],
    });
    closeSync(log);
    child.unref();
    this.procs.set(name, child);
    child.on('exit', (code, signal) => {
      if (this.procs.get(name) !== child) return;
      this.procs.delete(name);
      this.crashed.set(name, signal ?? `code ${code}`);
      this.writePgids();
    });
    this.writePgids();
  }

  /** SIGTERM, then SIGKILL what is left after STOP_TIMEOUT_MS; with `crash`, SIGKILL at once. */
  private async stopProc(name: ProcName, opts: { crash?: boolean } = {}): Promise<void> {
    const child = this.procs.get(name);
    if (!child?.pid) return;
    this.procs.delete(name); // asked to stop: not a crash to report
    const pgid = child.pid;
    const deadline = Date.now() + (opts.crash ? 0 : STOP_TIMEOUT_MS);
    if (!opts.crash) signalGroup(pgid, 'SIGTERM');
    while (groupAlive(pgid) && Date.now() < deadline) await sleep(100);
    if (groupAlive(pgid)) {
      signalGroup(pgid, 'SIGKILL');
      while (groupAlive(pgid) && Date.now() < deadline + 5000) await sleep(50);
    }
    this.writePgids();
  }

  /** The process groups the watchdog and the exit hooks clean up. */
  private writePgids(): void {
    const pgids = [...this.procs.values()].map((c) => c.pid).filter((pid) => pid !== undefined);
    try {
      writeFileSync(join(this.dir, 'harness.pgids'), pgids.join('\n') + '\n');
    } catch {
      // the run dir is gone: nothing left to record
    }
  }

  /** A detached shell that cleans up after this process once it is gone, however it died. */
  private startWatchdog(): void {
    const script = `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done\n${CLEANUP_SCRIPT}`;
    this.watchdog = spawn('bash', ['-c', script, 'watchdog', this.dir], { detached: true, stdio: 'ignore' });
    this.watchdog.unref();
  }

  /** Synchronous clean-up, for process exit hooks. */
  cleanupSync(): void {
    if (this.stopped) return;
    this.stopped = true;
    spawnSync('bash', ['-c', CLEANUP_SCRIPT, 'cleanup', this.dir], { stdio: 'ignore', timeout: STOP_TIMEOUT_MS + 10_000 });
    this.watchdog?.kill('SIGKILL');
    active.delete(this);
  }
}


/**
 * Stops the process groups listed in $1/harness.pgids (SIGTERM, up to 20 s, SIGKILL) and
 * unmounts the three mounts. A group is signalled only while it still belongs to this run
 * (its leader's environment names this CLUSTER_DIR; a pid is not reused as a process
 * group id while that group has members).
 */
const CLEANUP_SCRIPT = `
dir="$1"
# group_alive PGID: a process of that group is still running (zombies do not count).
group_alive() {
  local g="$1" f s
  for f in /proc/[0-9]*/stat; do
    read -r s <"$f" 2>/dev/null || continue
    set -- \${s##*) }
    [ "$3" = "$g" ] && [ "$1" != Z ] && return 0
  done
  return 1
}
pgs=()
for pg in $(cat "$dir/harness.pgids" 2>/dev/null); do
  group_alive "$pg" || continue
  if [ -e "/proc/$pg" ] && [ "$(cut -d' ' -f3 "/proc/$pg/stat" 2>/dev/null)" != Z ]; then
    tr '\\0' '\\n' <"/proc/$pg/environ" 2>/dev/null | grep -qxF "CLUSTER_DIR=$dir" || continue
  fi
  pgs+=("$pg")
done
for pg in "\${pgs[@]}"; do kill -TERM -- "-$pg" 2>/dev/null; done
for _ in $(seq 200); do
  alive=0
  for pg in "\${pgs[@]}"; do group_alive "$pg" && alive=1; done
  [ "$alive" = 0 ] && break
  sleep 0.1
done
for pg in "\${pgs[@]}"; do kill -KILL -- "-$pg" 2>/dev/null; done
sleep 0.2
for n in 1 2 3; do
  m="$dir/node$n/mnt"
  grep -qs " $m fuse" /proc/self/mounts && fusermount3 -uz "$m"
done
exit 0
`;

let hooksInstalled = false;

/** On exit or a fatal signal, clean up every cluster this process still runs. */
function installProcessHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  const cleanupAll = () => {
    for (const cluster of [...active]) cluster.cleanupSync();
  };
  process.on('exit', cleanupAll);
  // Under `node --test` each file runs in a child of the runner; if the runner dies (say
  // SIGKILL), a file still inside a long test would keep its cluster: leave with it.
  if (process.env.NODE_TEST_CONTEXT) {
    const runner = process.ppid;
    setInterval(() => {
      if (active.size > 0 && process.ppid !== runner) {
        console.error('cluster harness: the test runner is gone; stopping the cluster and exiting');
        cleanupAll();
        process.exit(1);
      }
    }, 1000).unref();
  }
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const) {
    process.on(signal, () => {
      if (active.size === 0 && process.listenerCount(signal) > 1) return; // someone else handles it
      cleanupAll();
      process.exit(code);
    });
  }
}

/** Cleans up runs whose test process died (should the watchdog have died too) and prunes old run dirs. */
function reapDeadRuns(): void {
  const runs = readdirSafe(RUNS_DIR).sort();
  const dead: string[] = [];
  for (const run of runs) {
    const dir = join(RUNS_DIR, run);
    let owner: number | undefined;
    try {
      owner = (JSON.parse(readFileSync(join(dir, 'harness.json'), 'utf8')) as { ownerPid: number }).ownerPid;
    } catch {
      owner = undefined;
    }
    if (owner !== undefined && processAlive(owner)) continue;
    spawnSync('bash', ['-c', CLEANUP_SCRIPT, 'reap', dir], { stdio: 'ignore', timeout: STOP_TIMEOUT_MS + 10_000 });
    dead.push(dir);
  }
  for (const dir of dead.slice(0, Math.max(dead.length - KEEP_RUNS, 0))) {
    rmSync(dir, { recursive: true, force: true });
  }
}

function unmount(mount: string): void {
  let mounts = '';
  try {
    mounts = readFileSync('/proc/self/mounts', 'utf8');
  } catch {
    return;
  }
  if (mounts.includes(` ${mount} fuse`)) spawnSync('fusermount3', ['-uz', mount], { stdio: 'ignore' });
}

async function portsInUse(ports: number[], host = '127.0.0.1'): Promise<number[]> {
  const results = await Promise.all(
    ports.map(
      (port) =>
        new Promise<number | undefined>((resolve) => {
          const socket = connect({ host, port });
          socket.setTimeout(500);
          socket.once('connect', () => {
            socket.destroy();
            resolve(port);
          });
          socket.once('timeout', () => {
            socket.destroy();
            resolve(undefined);
          });
          socket.once('error', () => resolve(undefined));
        }),
    ),
  );
  return results.filter((p): p is number => p !== undefined);
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // already gone
  }
}

/** Whether a process of the group is still running; zombies (not yet reaped) do not count. */
function groupAlive(pgid: number): boolean {
  for (const entry of readdirSafe('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // pid (comm) state ppid pgrp ...: comm may hold spaces, so split after the last ')'.
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) === pgid && state !== 'Z') return true;
  }
  return false;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

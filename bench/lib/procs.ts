/**
 * The processes of a running cluster, found in /proc: every process whose
 * environment names the cluster's CLUSTER_DIR, labelled from NODE_NAME and
 * its command line (litefs, the node supervisor, auth, enroll, envoy). Gives
 * peak memory (VmHWM) and CPU time (utime+stime) per process.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import type { Row } from './types.js';

export interface Proc {
  pid: number;
  /** e.g. "enroll@node1", "litefs@node2", "envoy", "loadgen". */
  name: string;
}

export interface Memory {
  name: string;
  pid: number;
  vmhwm_mb: number;
  vmrss_mb: number;
}

const CLK_TCK = (() => {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(r.stdout?.trim());
  return Number.isFinite(n) && n > 0 ? n : 100;
})();

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** The labelled processes of the cluster whose CLUSTER_DIR is `clusterDir` (shells left out). */
export function clusterProcesses(clusterDir: string): Proc[] {
  const out: Proc[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const environ = read(`/proc/${entry}/environ`);
    if (!environ) continue;
    const env = environ.split('\0');
    if (!env.includes(`CLUSTER_DIR=${clusterDir}`)) continue;
    const argv = (read(`/proc/${entry}/cmdline`) ?? '').split('\0').filter(Boolean);
    const comm = (read(`/proc/${entry}/comm`) ?? '').trim();
    const node = env.find((e) => e.startsWith('NODE_NAME='))?.slice('NODE_NAME='.length);
    const args = argv.join(' ');
    let role: string | undefined;
    if (comm === 'envoy' || /(^|\/)envoy$/.test(argv[0] ?? '')) role = 'envoy';
    else if (comm === 'litefs' || /(^|\/)litefs$/.test(argv[0] ?? '')) role = 'litefs';
    else if (args.includes('services/node/main.js')) role = 'supervisor';
    else if (args.includes('services/auth/main.js')) role = 'auth';
    else if (args.includes('services/enroll/main.js')) role = 'enroll';
    if (!role) continue; // bash wrappers, fusermount, …
    out.push({ pid: Number(entry), name: role === 'envoy' ? 'envoy' : `${role}@${node ?? '?'}` });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** VmHWM (peak resident set) and VmRSS of a process, in MiB; undefined once it is gone. */
export function memoryOf(p: Proc): Memory | undefined {
  const status = read(`/proc/${p.pid}/status`);
  if (!status) return undefined;
  const kb = (key: string) => Number(status.match(new RegExp(`^${key}:\\s+(\\d+)`, 'm'))?.[1] ?? Number.NaN);
  return { name: p.name, pid: p.pid, vmhwm_mb: Math.round(kb('VmHWM') / 102.4) / 10, vmrss_mb: Math.round(kb('VmRSS') / 102.4) / 10 };
}

/**
 * CPU seconds a process has used in user and in kernel mode, or undefined once
 * it is gone. With `mainThread`, only its first thread's: for Node, the event
 * loop's thread, without libuv's threadpool (argon2) and V8's helper threads.
 */
function cpuSeconds(pid: number, mainThread = false): { user: number; system: number } | undefined {
  const stat = read(mainThread ? `/proc/${pid}/task/${pid}/stat` : `/proc/${pid}/stat`);
  if (!stat) return undefined;
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // after "pid (comm) ": state=0 … utime=11 stime=12
  return { user: Number(f[11]) / CLK_TCK, system: Number(f[12]) / CLK_TCK };
}

/** Per thread of a process (tid →): nanoseconds run on a core, nanoseconds waited runnable for one, and how many times it was put on a core. */
type SchedTimes = Map<number, { run: number; wait: number; slices: number }>;

/**
 * From /proc/<pid>/task/<tid>/schedstat, kept by the scheduler: time on a
 * core, time runnable on a run queue before getting one, and the number of
 * times it got one, for every thread (the main thread's tid is the pid).
 * Empty once the process is gone.
 */
export function schedTimes(pid: number): SchedTimes {
  const out: SchedTimes = new Map();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    const f = (read(`/proc/${pid}/task/${tid}/schedstat`) ?? '').trim().split(' ');
    if (f.length >= 3) out.set(Number(tid), { run: Number(f[0]), wait: Number(f[1]), slices: Number(f[2]) });
  }
  return out;
}

/**
 * How long a process's threads waited, on average, each time they became
 * runnable before a core ran them (ms), between two readings; a thread that
 * ended meanwhile drops out, one that began counts from zero. Undefined when
 * they were hardly put on a core (fewer than 20 times).
 *
 * On an idle VM this is not zero: a halted virtual core takes tens of
 * microseconds to wake. What a load adds to it is time spent queueing for a
 * busy core.
 */
export function runQueueDelayMs(before: SchedTimes, after: SchedTimes): number | undefined {
  let wait = 0;
  let slices = 0;
  for (const [tid, b] of after) {
    const a = before.get(tid) ?? { run: 0, wait: 0, slices: 0 };
    wait += b.wait - a.wait;
    slices += b.slices - a.slices;
  }
  return slices >= 20 ? wait / slices / 1e6 : undefined;
}

/** Busy and total jiffies of the whole machine, from /proc/stat. */
function machineTicks(): { busy: number; total: number } {
  const line = (read('/proc/stat') ?? '').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = line.reduce((a, b) => a + b, 0);
  const idle = (line[3] ?? 0) + (line[4] ?? 0); // idle + iowait
  return { busy: total - idle, total };
}

export interface CpuReport {
  seconds: number;
  /** Cores used on average by each process (name → cores). */
  cores: Record<string, number>;
  /**
   * Share of each process's CPU spent in the kernel (0..1): system calls, and
   * for the services on a LiteFS mount, the FUSE round trips of their SQLite I/O.
   */
  kernelShare: Record<string, number>;
  /**
   * Cores used by the main thread alone, for the Node processes (the services
   * and this generator): the event loop, against the process's other threads.
   */
  mainThread: Record<string, number>;
  /**
   * How long each process's threads waited for a core, on average, each time
   * they became runnable (ms): what queueing for the CPU adds to every hop a
   * request makes through the process.
   */
  runQueueDelay: Record<string, number>;
  /** The same for the main thread alone, for the Node processes. */
  mainRunQueueDelay: Record<string, number>;
  /** Cores busy on the whole machine on average (everything, this generator included). */
  machineBusy: number;
  machineCores: number;
}

/** Starts measuring CPU of `procs` plus this process ("loadgen"); call the result to stop. */
export function cpuMeter(procs: Proc[]): () => CpuReport {
  const all = [...procs, { pid: process.pid, name: 'loadgen' }];
  const isNode = (p: Proc) => !/^(envoy|litefs)/.test(p.name);
  const before = new Map(all.map((p) => [p.pid, cpuSeconds(p.pid)]));
  const beforeMain = new Map(all.filter(isNode).map((p) => [p.pid, cpuSeconds(p.pid, true)]));
  const schedBefore = new Map(all.map((p) => [p.pid, schedTimes(p.pid)]));
  const m0 = machineTicks();
  const t0 = process.hrtime.bigint();
  return () => {
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const m1 = machineTicks();
    const user: Record<string, number> = {};
    const system: Record<string, number> = {};
    for (const p of all) {
      const a = before.get(p.pid);
      const b = cpuSeconds(p.pid);
      if (a === undefined || b === undefined) continue;
      user[p.name] = (user[p.name] ?? 0) + b.user - a.user;
      system[p.name] = (system[p.name] ?? 0) + b.system - a.system;
    }
    const mainThread: Record<string, number> = {};
    for (const p of all.filter(isNode)) {
      const a = beforeMain.get(p.pid);
      const b = cpuSeconds(p.pid, true);
      if (a === undefined || b === undefined) continue;
      mainThread[p.name] = (mainThread[p.name] ?? 0) + Math.max(b.user + b.system - a.user - a.system, 0) / seconds;
    }
    const cores: Record<string, number> = {};
    const kernelShare: Record<string, number> = {};
    for (const name of Object.keys(user)) {
      const total = user[name]! + system[name]!;
      cores[name] = total / seconds;
      kernelShare[name] = total > 0 ? system[name]! / total : 0;
    }
    const runQueueDelay: Record<string, number> = {};
    const mainRunQueueDelay: Record<string, number> = {};
    for (const p of all) {
      const before = schedBefore.get(p.pid)!;
      const after = schedTimes(p.pid);
      const delay = runQueueDelayMs(before, after);
      if (delay !== undefined) runQueueDelay[p.name] = delay;
      if (!isNode(p)) continue;
      const onlyMain = (m: SchedTimes) => new Map([...m].filter(([tid]) => tid === p.pid));
      const main = runQueueDelayMs(onlyMain(before), onlyMain(after));
      if (main !== undefined) mainRunQueueDelay[p.name] = main;
    }
    const n = cpus().length;
    return { seconds, cores, kernelShare, mainThread, runQueueDelay, mainRunQueueDelay, machineBusy: ((m1.busy - m0.busy) / Math.max(m1.total - m0.total, 1)) * n, machineCores: n };
  };
}

/**
 * "auth@node1 1.62 (2% kernel, main thread 0.21), envoy 0.61 (22% kernel), …; machine 1.97/2":
 * the top users first; the main thread is named where it used under 90% of its process's CPU.
 */
export function formatCpu(r: CpuReport, top = 5): string {
  const main = (n: string, c: number) => {
    const m = r.mainThread[n];
    return m !== undefined && m < 0.9 * c ? `, main thread ${m.toFixed(2)}` : '';
  };
  const parts = Object.entries(r.cores)
    .filter(([, c]) => c >= 0.02)
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([n, c]) => `${n} ${c.toFixed(2)} (${Math.round((r.kernelShare[n] ?? 0) * 100)}% kernel${main(n, c)})`);
  return `cpu cores: ${parts.join(', ')}; machine ${r.machineBusy.toFixed(2)}/${r.machineCores}`;
}

/** CPU milliseconds per request by process, from a CPU report and a request count. */
function cpuMsPerRequest(r: CpuReport, requests: number): Record<string, number> {
  const out: Record<string, number> = {};
  if (requests <= 0) return out;
  for (const [n, c] of Object.entries(r.cores)) out[n] = Math.round(((c * r.seconds * 1000) / requests) * 1000) / 1000;
  out.machine = Math.round(((r.machineBusy * r.seconds * 1000) / requests) * 1000) / 1000;
  return out;
}

/** Three decimals: the precision every CPU figure of a row is given in. */
const r3 = (x: number) => Math.round(x * 1000) / 1000;

/** The CPU figures a result row carries: cores, main-thread cores, kernel share (per process) and CPU ms per request. */
export function cpuFields(r: CpuReport, requests: number): Pick<Row, 'cpu_cores' | 'cpu_main_thread_cores' | 'cpu_kernel_share' | 'cpu_ms_per_request' | 'run_queue_delay_ms'> {
  return {
    ...runQueueFields(r),
    cpu_cores: Object.fromEntries(Object.entries(r.cores).map(([k, v]) => [k, r3(v)]).concat([['machine', r3(r.machineBusy)]])),
    cpu_main_thread_cores: Object.fromEntries(Object.entries(r.mainThread).map(([k, v]) => [k, r3(v)])),
    cpu_kernel_share: Object.fromEntries(Object.entries(r.kernelShare).map(([k, v]) => [k, Math.round(v * 100) / 100])),
    cpu_ms_per_request: cpuMsPerRequest(r, requests),
  };
}

/**
 * The run-queue delays a row carries (ms per time a thread became runnable):
 * per process, and per Node main thread under "<name> main thread".
 */
export function runQueueFields(r: CpuReport): Pick<Row, 'run_queue_delay_ms'> {
  return {
    run_queue_delay_ms: Object.fromEntries([
      ...Object.entries(r.runQueueDelay).map(([k, v]) => [k, r3(v)]),
      ...Object.entries(r.mainRunQueueDelay).map(([k, v]) => [`${k} main thread`, r3(v)]),
    ]),
  };
}

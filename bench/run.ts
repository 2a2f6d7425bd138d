/**
 * Runs the benchmark scenarios (bench/scenarios/NN-name.ts) and writes the results.
 *
 *   node dist/bench/run.js [--quick] [--only NN[,NN…]] [--mode batch|single] [--out DIR]
 *
 * Scenarios without a cluster run first; then, per WRITE_MODE (batch, then single),
 * one cluster is started with the test harness, every scenario that runs in that mode
 * runs against it, the peak memory of each cluster process is read, and the cluster is
 * stopped, always, even when a scenario fails. A full run writes bench/results/latest.json,
 * latest.md, their copy in bench/README.md and the targets in the repository README; --quick, --only and --mode runs go to bench/results/raw/.
 */
import { readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { REPO_DIR, startCluster, type Cluster } from '../test/harness/cluster.js';
import { runLoad } from './lib/load.js';
import { machineInfo } from './lib/machine.js';
import { clusterProcesses, cpuFields, cpuMeter, formatCpu, memoryOf, type CpuReport, type Memory, type Proc } from './lib/procs.js';
import { markdown, readmeSummary, RESULTS_BLOCK, SUMMARY_BLOCK, updateBlock, writeJson, type Results } from './lib/report.js';
import { round } from './lib/stats.js';
import type { Check, Context, MeasureSpec, Row, Scenario, WriteMode } from './lib/types.js';

const BENCH_SRC = join(REPO_DIR, 'bench');
const RESULTS = join(BENCH_SRC, 'results');
const MODES: WriteMode[] = ['batch', 'single'];

interface Args {
  quick: boolean;
  only: string[];
  /** Write modes to run the cluster scenarios in (default: both). */
  modes: WriteMode[];
  out?: string;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { quick: false, only: [], modes: [...MODES] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--quick') args.quick = true;
    else if (a === '--only') args.only.push(...(argv[++i] ?? '').split(',').filter(Boolean));
    else if (a.startsWith('--only=')) args.only.push(...a.slice(7).split(',').filter(Boolean));
    else if (a === '--mode') {
      const m = argv[++i] as WriteMode;
      if (!MODES.includes(m)) throw new Error(`--mode must be one of ${MODES.join(', ')}`);
      args.modes = [m];
    } else if (a === '--out') args.out = argv[++i];
    else if (a === '--help' || a === '-h') {
      console.log('usage: node dist/bench/run.js [--quick] [--only NN[,NN…]] [--mode batch|single] [--out DIR]');
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  return args;
}

function log(message: string): void {
  console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);
}

async function loadScenarios(only: string[]): Promise<Scenario[]> {
  const dir = fileURLToPath(new URL('./scenarios/', import.meta.url));
  const files = readdirSync(dir).filter((f) => /^\d\d-.*\.js$/.test(f)).sort();
  const picked = only.length ? files.filter((f) => only.some((o) => f.startsWith(o.padStart(2, '0')))) : files;
  if (only.length && picked.length === 0) throw new Error(`no scenario matches --only ${only.join(',')}`);
  const out: Scenario[] = [];
  for (const f of picked) out.push((await import(pathToFileURL(join(dir, f)).href)) as Scenario);
  return out;
}

/** Starts a cluster; while another one holds the fixed ports, waits and retries (up to 10 min). */
async function startWithRetry(mode: WriteMode): Promise<Cluster> {
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    try {
      return await startCluster({ env: { WRITE_MODE: mode }, startTimeoutMs: 120_000 });
    } catch (err) {
      const msg = (err as Error).message;
      if (!msg.includes('already running') || Date.now() > deadline) throw err;
      log(`ports busy (another cluster runs), retrying in 15 s: ${msg.split('\n')[0]}`);
      await new Promise((r) => setTimeout(r, 15_000));
    }
  }
}

function makeContext(args: Args, settings: Record<string, unknown>, scenario: Scenario, mode?: WriteMode, cluster?: Cluster): Context {
  const procs = (): Proc[] => (cluster ? clusterProcesses(cluster.dir) : []);
  const row = (spec: MeasureSpec, r: Awaited<ReturnType<typeof runLoad>>, cpu?: CpuReport): Row => {
    const notes = [spec.notes, cpu ? formatCpu(cpu) : undefined, r.errorSamples.length ? `errors e.g.: ${r.errorSamples.join(' / ')}` : undefined]
      .filter(Boolean)
      .join('; ');
    const ok = r.requests - r.errors;
    return {
      scenario: scenario.name,
      variant: spec.variant,
      ...(spec.baseline ? { baseline: true } : {}),
      ...(mode ? { mode } : {}),
      concurrency: spec.concurrency,
      requests: r.requests,
      seconds: round(r.seconds),
      throughput: round(r.throughput),
      p50_ms: round(r.p50_ms),
      p99_ms: round(r.p99_ms),
      max_ms: round(r.max_ms),
      errors: r.errors,
      notes,
      ...(cpu ? cpuFields(cpu, ok) : {}),
    };
  };
  return {
    quick: args.quick,
    mode,
    get cluster(): Cluster {
      if (!cluster) throw new Error(`${scenario.name} has no cluster (declare modes)`);
      return cluster;
    },
    procs,
    pick: (full, quick) => (args.quick ? quick : full),
    log: (m) => log(`${scenario.name}${mode ? ` [${mode}]` : ''}: ${m}`),
    async measure(spec, op) {
      if (spec.warmupMs) await runLoad({ concurrency: spec.concurrency, durationMs: spec.warmupMs }, op);
      const meter = cpuMeter([...procs(), ...(spec.procs ?? [])]);
      const r = await runLoad({ concurrency: spec.concurrency, durationMs: spec.durationMs, count: spec.count }, op);
      const cpu = meter();
      const result = row(spec, r, cpu);
      log(`${scenario.name}${mode ? ` [${mode}]` : ''}: ${spec.variant}: ${result.throughput} ops/s, p50 ${result.p50_ms} ms, p99 ${result.p99_ms} ms, errors ${result.errors}; ${formatCpu(cpu)}`);
      return result;
    },
    row,
    setting: (k, v) => {
      settings[k] = v;
    },
  };
}

/** Environment variables of lib/config.ts that change how the product runs (WRITE_MODE is set per cluster). */
const PRODUCT_KNOBS = ['READ_MODE', 'READ_MEMO', 'WRITE_MAX_BATCH', 'WRITE_BATCH_DELAY_MS', 'FORWARD_MODE', 'WRITER_THREAD', 'LOGIN_COMMIT_WAIT_MS'];

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const started = new Date();
  const scenarios = await loadScenarios(args.only);
  const settings: Record<string, unknown> = {
    quick: args.quick,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'info (product default)',
    target: '127.0.0.1 only',
    // The product's knobs the services read (lib/config.ts), when this run overrides them.
    ...Object.fromEntries(PRODUCT_KNOBS.filter((k) => process.env[k] !== undefined).map((k) => [k, process.env[k]])),
  };
  const machine = machineInfo();
  log(`machine: ${machine.cpu}, ${machine.cores} cores; node ${machine.node}, envoy ${machine.envoy}, ${machine.litefs}, sqlite ${machine.sqlite}`);
  const rows: Row[] = [];
  const memory: Record<string, Memory[]> = {};
  const failures: Results['failures'] = [];

  const runOne = async (s: Scenario, mode?: WriteMode, cluster?: Cluster) => {
    log(`▶ ${s.name}${mode ? ` [WRITE_MODE=${mode}]` : ''}: ${s.title}`);
    try {
      rows.push(...(await s.run(makeContext(args, settings, s, mode, cluster))));
    } catch (err) {
      const e = err as Error;
      log(`✗ ${s.name}${mode ? ` [${mode}]` : ''} failed: ${e.stack ?? e.message}`);
      failures.push({ scenario: s.name, mode, error: e.message });
    }
  };

  for (const s of scenarios.filter((x) => !x.modes?.length)) await runOne(s);
  for (const mode of args.modes) {
    const here = scenarios.filter((x) => x.modes?.includes(mode));
    if (here.length === 0) continue;
    log(`starting the cluster with WRITE_MODE=${mode}`);
    let cluster: Cluster | undefined;
    try {
      cluster = await startWithRetry(mode);
      log(`cluster ready: ${cluster.dir}`);
      for (const s of here) await runOne(s, mode, cluster);
      memory[`cluster WRITE_MODE=${mode}`] = clusterProcesses(cluster.dir).map(memoryOf).filter((m): m is Memory => !!m);
    } catch (err) {
      log(`✗ cluster (${mode}) failed: ${(err as Error).message}`);
      failures.push({ scenario: 'cluster', mode, error: (err as Error).message });
    } finally {
      await cluster?.stop();
      log(`cluster (${mode}) stopped`);
    }
  }
  const self = memoryOf({ pid: process.pid, name: 'loadgen' });
  if (self) memory['load generator (this process)'] = [self];

  const checks: Check[] = [];
  for (const s of scenarios) {
    try {
      checks.push(...(s.checks?.(rows) ?? []));
    } catch (err) {
      failures.push({ scenario: `${s.name} checks`, error: (err as Error).message });
    }
  }

  const results: Results = {
    started: started.toISOString(),
    finished: new Date().toISOString(),
    quick: args.quick,
    only: args.only,
    machine,
    settings,
    rows,
    checks,
    memory,
    failures,
  };
  const md = markdown(results);
  const stamp = started.toISOString().replace(/[-:]/g, '').replace(/\..*/, '');
  const full = !args.quick && args.only.length === 0 && args.modes.length === MODES.length;
  const outDir = args.out ?? (full ? RESULTS : join(RESULTS, 'raw', stamp));
  mkdirSync(join(RESULTS, 'raw'), { recursive: true });
  writeJson(join(RESULTS, 'raw', `${stamp}.json`), results);
  const base = full && !args.out ? 'latest' : 'results';
  writeJson(join(outDir, `${base}.json`), results);
  writeFileSync(join(outDir, `${base}.md`), md);
  if (full && !args.out) {
    updateBlock(join(BENCH_SRC, 'README.md'), RESULTS_BLOCK, `${md}\n![throughput](results/throughput.png)\n![latency](results/latency.png)\n`);
    updateBlock(join(REPO_DIR, 'README.md'), SUMMARY_BLOCK, readmeSummary(results));
  }
  // For scripts/bench.sh: where the chart script finds this run's JSON and puts its images.
  writeFileSync(join(RESULTS, 'raw', 'last-run'), `${join(outDir, `${base}.json`)}\n${outDir}\n`);
  console.log('\n' + md);
  log(`results: ${join(outDir, `${base}.json`)}`);
  process.exitCode = failures.length ? 1 : 0;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

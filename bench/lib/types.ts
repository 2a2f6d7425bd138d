/** The shapes every scenario and the runner agree on. */
import type { Cluster } from '../../test/harness/cluster.js';
import type { LoadResult, Op } from './load.js';
import type { Proc } from './procs.js';

export type WriteMode = 'batch' | 'single';

/** One measured figure: a scenario's variant (or its baseline). */
export interface Row {
  scenario: string;
  variant: string;
  /** The figure this scenario compares itself against. */
  baseline?: boolean;
  /** The cluster's WRITE_MODE, when a cluster was involved. */
  mode?: WriteMode;
  concurrency?: number;
  requests: number;
  seconds: number;
  /** Successful operations per second. */
  throughput: number;
  p50_ms: number;
  p99_ms: number;
  max_ms?: number;
  errors: number;
  notes: string;
  /** Average cores used per process while the variant ran. */
  cpu_cores?: Record<string, number>;
  /** Of those, the main thread's (the event loop), for the Node processes. */
  cpu_main_thread_cores?: Record<string, number>;
  /** Share of each process's CPU spent in the kernel (FUSE round trips show up here). */
  cpu_kernel_share?: Record<string, number>;
  /**
   * How long each process's threads waited for a core, on average, each time
   * they became runnable (ms, from the scheduler's schedstat); "<name> main
   * thread" for a Node process's event loop alone.
   */
  run_queue_delay_ms?: Record<string, number>;
  /** CPU milliseconds per successful request, per process ("machine": everything). */
  cpu_ms_per_request?: Record<string, number>;
  /** Scenario-specific extra figures. */
  extra?: Record<string, unknown>;
}

/** A target of the issue, as a ratio measured in the same run. */
export interface Check {
  target: string;
  /** What was divided by what, with both figures. */
  measured: string;
  ratio: number;
  /**
   * For a ratio of percentiles from a few hundred samples: the 95 % bootstrap
   * interval of the ratio (bench/lib/stats.ts, `percentileRatioInterval`).
   */
  interval?: [number, number];
  /** e.g. ">= 10" or "<= 2". */
  goal: string;
  met: boolean;
  /** For a miss: what bounds it, from the figures of this run. */
  bound?: string;
}

export interface MeasureSpec {
  variant: string;
  baseline?: boolean;
  concurrency: number;
  durationMs?: number;
  count?: number;
  warmupMs?: number;
  notes?: string;
  /** Extra processes to include in the CPU figures (e.g. the echo server). */
  procs?: Proc[];
}

export interface Context {
  readonly quick: boolean;
  /** WRITE_MODE of the cluster this call runs against (cluster scenarios only). */
  readonly mode?: WriteMode;
  /** The running cluster (cluster scenarios only). */
  readonly cluster: Cluster;
  /** The cluster's processes, labelled (empty without a cluster). */
  procs(): Proc[];
  /** `full` normally, `quick` with --quick. */
  pick<T>(full: T, quick: T): T;
  log(message: string): void;
  /** Runs a closed-loop load and turns it into a row, with CPU figures. */
  measure(spec: MeasureSpec, op: Op): Promise<Row>;
  /** Builds a row from a load result measured some other way. */
  row(spec: MeasureSpec, result: LoadResult, cpu?: import('./procs.js').CpuReport): Row;
  /** Settings shared into the results (concurrency, durations, …). */
  setting(key: string, value: unknown): void;
}

export interface Scenario {
  /** e.g. "02-write-primary". */
  name: string;
  title: string;
  /** Cluster write modes this scenario runs under; none = no cluster needed. */
  modes?: WriteMode[];
  run(ctx: Context): Promise<Row[]>;
  /** Ratio checks, from every row of the run (so a check may compare modes). */
  checks?(rows: Row[]): Check[];
}

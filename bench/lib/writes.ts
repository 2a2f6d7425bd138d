/**
 * The write workload of scenarios 02–04 and 07: each worker is one student who
 * enrolls into a big section and drops it again, over and over. Every request
 * is one valid write (CreateEnrollment or DropUserEnrollment); one section per
 * student means no schedule conflicts, and the capacity (10,000) never fills.
 * The students and their state are shared by every scenario on the same cluster.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Cluster } from '../../test/harness/cluster.js';
import { findCapacity, runOpenLoop, type OpenLoopResult } from './capacity.js';
import type { Op } from './load.js';
import { histogramSince } from './metrics.js';
import { cpuMeter, type CpuReport } from './procs.js';
import { round } from './stats.js';
import type { Context, Row } from './types.js';
import { school, sections, students, type Person } from './school.js';
import type { Outcome, Via } from './vias.js';

export interface Writers {
  sectionId: number;
  students: Person[];
  /** Whether student i is currently enrolled. */
  enrolled: boolean[];
}

const byCluster = new Map<string, Promise<Writers>>();

/** At least `count` writer students on this cluster (created once, reused). */
export async function writers(cluster: Cluster, count: number): Promise<Writers> {
  let w = byCluster.get(cluster.dir);
  if (!w) {
    w = (async () => {
      const sc = await school(cluster);
      const [sectionId] = await sections(sc, 1, { capacity: 10_000, waitlist_capacity: 0 });
      return { sectionId: sectionId!, students: [], enrolled: [] };
    })();
    byCluster.set(cluster.dir, w);
  }
  const ws = await w;
  if (ws.students.length < count) {
    const more = await students(cluster, count - ws.students.length);
    ws.students.push(...more);
    ws.enrolled.push(...more.map(() => false));
  }
  return ws;
}

/**
 * Worker w alternates enroll and drop for student w. `onWrite` sees each
 * committed write's TXID. A refusal (state out of step after an error) resyncs
 * the student's state and counts as an error.
 */
export function enrollDropOp(ws: Writers, via: Via, onWrite?: (txid: bigint | undefined) => void): Op {
  return async (worker) => {
    const s = ws.students[worker]!;
    const wasEnrolled = ws.enrolled[worker]!;
    const out: Outcome = wasEnrolled ? await via.drop(s, ws.sectionId) : await via.enroll(s, ws.sectionId);
    if (out.result === 'ALREADY_EXISTS') {
      ws.enrolled[worker] = true;
      throw new Error('enroll refused: already enrolled (state resynced)');
    }
    if (out.result === 'NOT_FOUND') {
      ws.enrolled[worker] = false;
      throw new Error('drop refused: not enrolled (state resynced)');
    }
    if (out.result !== 'enrolled' && out.result !== 'ok') throw new Error(`unexpected outcome ${out.result}`);
    ws.enrolled[worker] = !wasEnrolled;
    onWrite?.(out.txid);
  };
}

/**
 * One row of scenarios 02–04: the enroll/drop workload through `via` at
 * `concurrency` in flight, 10 s after a 1 s warm-up (less with --quick); `via`
 * is closed afterwards. The row also gives the writes per commit: answers
 * over the distinct TXIDs they carry (1 when each write is its own commit).
 */
export async function measureWrites(ctx: Context, ws: Writers, via: Via, concurrency: number, variant: string, notes: string): Promise<Row> {
  const commits = commitCounter();
  const onWriter = await primaryCommits(ctx.cluster);
  try {
    const row = await ctx.measure(
      { variant, notes, concurrency, durationMs: ctx.pick(10_000, 2_000), warmupMs: ctx.pick(1_000, 300) },
      enrollDropOp(ws, via, commits.answered),
    );
    return withCommitTime(commits.onto(row), await onWriter(), 'warm-up included');
  } finally {
    via.close();
  }
}

/** The primary's commits over a stretch of time, as its enrollment service counts them (lib/metrics.ts). */
export interface WriterCommits {
  commits: number;
  /** Their mean time on the writer: BEGIN to reading the new TXID. */
  meanMs: number;
}

/**
 * Starts counting the primary's (node1's) enrollment commits from its metrics;
 * the function returned gives those made since, or undefined when they
 * could not be read (a cluster whose services serve no metrics).
 */
export async function primaryCommits(cluster: Cluster): Promise<() => Promise<WriterCommits | undefined>> {
  const since = await histogramSince(cluster.node(1).enrollMetrics, 'course_commit_seconds', { service: 'enroll', node: 'node1' });
  return async () => {
    const gain = await since();
    return gain && { commits: gain.count, meanMs: gain.mean * 1000 };
  };
}

/** Adds the primary's mean commit time to a row, when it was read; `over` says what the commits span besides the row. */
export function withCommitTime(row: Row, c: WriterCommits | undefined, over = ''): Row {
  if (!c) return row;
  const ms = round(c.meanMs);
  const what = `mean of ${c.commits} commits${over ? `, ${over}` : ''}, from its metrics`;
  return { ...row, notes: `${row.notes}; the primary's writer took ${ms} ms per commit (${what})`, extra: { ...row.extra, commit_ms: ms } };
}

/** Counts answered writes and the distinct TXIDs they carried; `onto` adds their ratio to a row. */
export function commitCounter(): { answered: (txid: bigint | string | undefined) => void; onto: (row: Row) => Row } {
  const txids = new Set<string>();
  let answers = 0;
  return {
    answered: (txid) => {
      answers += 1;
      if (txid !== undefined) txids.add(String(txid));
    },
    onto: (row) => withWritesPerCommit(row, answers, txids.size),
  };
}

/** Adds the mean size of a group commit to a row: answered writes over the distinct TXIDs they carried. */
export function withWritesPerCommit(row: Row, answers: number, commits: number): Row {
  if (commits === 0) return row;
  const perCommit = round(answers / commits);
  return { ...row, notes: `${perCommit} writes per commit; ${row.notes}`, extra: { ...row.extra, writes_per_commit: perCommit } };
}

/** The latency bound of the capacity rows: a sustained rate keeps p99 within it. */
export const CAPACITY_P99_MS = 100;

/**
 * A capacity row: the highest rate of the enroll/drop workload through `via`
 * that an open loop sustains with p99 ≤ CAPACITY_P99_MS (bench/lib/capacity.ts),
 * searched from `hint`, with one student per slot (`ws` needs `slots`).
 * `extra.open_loop` marks the row; `via` is closed afterwards.
 */
export async function measureCapacity(ctx: Context, ws: Writers, via: Via, slots: number, variant: string, notes: string, hint: number): Promise<Row> {
  const cpuOf = new Map<OpenLoopResult, CpuReport>();
  const txids = new Map<OpenLoopResult, Set<bigint>>();
  let current = new Set<bigint>();
  const op = enrollDropOp(ws, via, (txid) => {
    if (txid !== undefined) current.add(txid);
  });
  try {
    const { best, probes } = await findCapacity(
      { hint, slots, p99BoundMs: CAPACITY_P99_MS, probeMs: ctx.pick(4_000, 1_000), warmupMs: ctx.pick(1_000, 300), log: (m) => ctx.log(`${variant}: ${m}`) },
      async (o) => {
        current = new Set();
        const meter = cpuMeter(ctx.procs());
        const r = await runOpenLoop(o, op);
        cpuOf.set(r, meter());
        txids.set(r, current);
        return r;
      },
    );
    const tried = probes.map((p) => `${p.rate} ${'✗'.repeat(p.sustained ? p.tries - 1 : p.tries)}${p.sustained ? '✓' : ''}`).join(', ');
    const spec = {
      variant: `${variant}, open loop: highest rate with p99 ≤ ${CAPACITY_P99_MS} ms`,
      concurrency: slots,
      notes: `${notes}; open loop, at most ${slots} in flight, latency from when each request was due; rates tried: ${tried}`,
    };
    if (!best) {
      const last = probes[probes.length - 1]!.result;
      return { ...ctx.row(spec, last, cpuOf.get(last)), throughput: 0, extra: { open_loop: true, sustained: false } };
    }
    const r = best.result;
    const row = ctx.row({ ...spec, notes: `offered ${best.rate}/s; ${spec.notes}` }, r, cpuOf.get(r));
    const answered = r.requests - r.errors - r.shed;
    return withWritesPerCommit({ ...row, extra: { ...row.extra, open_loop: true, offered: best.rate } }, answered, txids.get(r)?.size ?? 0);
  } finally {
    via.close();
  }
}

/** The open-loop capacity row of `scenario` in batch mode, if it ran. */
export function capacityRow(rows: Row[], scenario: string): Row | undefined {
  return rows.find((r) => r.scenario === scenario && r.mode === 'batch' && r.extra?.open_loop === true);
}

/** A node's TXID of enroll.db, read from its LiteFS mount (0 when unreadable). */
export function position(cluster: Cluster, n: 1 | 2 | 3, db = 'enroll.db'): bigint {
  try {
    const text = readFileSync(join(cluster.node(n).mount, `${db}-pos`), 'utf8');
    return BigInt(`0x${text.slice(0, text.indexOf('/'))}`);
  } catch {
    return 0n;
  }
}

/** Waits until both replicas have what the primary has (enroll.db and auth.db). */
export async function replicated(cluster: Cluster, timeoutMs = 30_000): Promise<void> {
  await cluster.waitUntil(
    () => (['enroll.db', 'auth.db'] as const).every((db) => {
      const p = position(cluster, 1, db);
      return position(cluster, 2, db) >= p && position(cluster, 3, db) >= p;
    }),
    timeoutMs,
    { what: 'the replicas to catch up with the primary', intervalMs: 50 },
  );
}

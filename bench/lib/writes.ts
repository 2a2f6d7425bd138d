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
import type { Op } from './load.js';
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
 * is closed afterwards.
 */
export async function measureWrites(ctx: Context, ws: Writers, via: Via, concurrency: number, variant: string, notes: string): Promise<Row> {
  try {
    return await ctx.measure(
      { variant, notes, concurrency, durationMs: ctx.pick(10_000, 2_000), warmupMs: ctx.pick(1_000, 300) },
      enrollDropOp(ws, via),
    );
  } finally {
    via.close();
  }
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

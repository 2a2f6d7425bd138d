/**
 * Replication lag: a worker thread polls the enroll.db position of all three
 * nodes (<mount>/enroll.db-pos) every 0.5 ms on one clock. For every write the
 * primary acknowledged (its x-txid), lag = first time a replica's position
 * reached that TXID − first time the primary's did (its commit), so both ends
 * are measured the same way (resolution about one poll, 0.5–1 ms).
 * Baseline: isolated writes (one at a time, 20 ms apart) on an idle cluster.
 * Then the same writers while each replica also serves catalogue reads at full
 * speed (a page of 50 sections): LiteFS applies a replicated transaction only
 * when no SQLite reader on that replica holds a read lock, so readers can delay
 * replication.
 *
 * Beside it, the services' own timing of the same commits from their metrics
 * (`course_commit_visible_seconds`: the primary's LiteFS timestamp of a commit
 * until the service hears LiteFS announce it on its node), on each replica
 * and on the primary, whose own is the floor: the timestamp is taken as the
 * primary's COMMIT begins writing its LTX file.
 *
 * The other direction last: how long a plain read on a replica's mount waits
 * while LiteFS applies the primary's commits there (bench/lib/replica-reads.ts),
 * with no service involved: node1 commits to a file of its own at fixed rates
 * while a thread reads it on node2.
 */
import { join } from 'node:path';
import { sleep } from '../lib/load.js';
import { firstReach, watchPositions } from '../lib/positions.js';
import { histogramSince } from '../lib/metrics.js';
import { cpuMeter, formatCpu } from '../lib/procs.js';
import { measureReplicaReads, prepareReplicaReads } from '../lib/replica-reads.js';
import { school, sections } from '../lib/school.js';
import { percentile, round, sorted, summarize } from '../lib/stats.js';
import type { Context, Row } from '../lib/types.js';
import { grpcVia } from '../lib/vias.js';
import { enrollDropOp, writers } from '../lib/writes.js';
import { CONCURRENCY } from './01-floor.js';

export const name = '07-lag';
export const title = 'replication lag, commit on the primary until visible on each replica';
export const modes = ['batch'] as const;

/** Commit rates on node1 while a thread reads on node2's mount (0 = the baseline). */
const STALL_COMMIT_RATES = [0, 30, 100];
/** Reads slower than this are split into time on a core, waiting for one, and asleep. */
const SLOW_READ_MS = 2;

/** Closed-loop catalogue readers per replica in the `reads` phase. */
const READERS_PER_REPLICA = 16;

const PHASES = {
  idle: 'isolated writes (1 in flight, 20 ms apart)',
  load: `under load (${CONCURRENCY} writers on node1)`,
  reads: `under load (${CONCURRENCY} writers on node1) while ${READERS_PER_REPLICA} readers per replica read the catalogue`,
} as const;

export async function run(ctx: Context): Promise<Row[]> {
  const cluster = ctx.cluster;
  const ws = await writers(cluster, CONCURRENCY);
  const via = grpcVia('node1', cluster.node(1).enrollGrpc);
  const replicaVias = ([2, 3] as const).map((n) => grpcVia(`node${n}`, cluster.node(n).enrollGrpc));
  const reader = ws.students[0]!;
  // A full first catalogue page for the readers, whether or not scenario 05 ran first.
  await sections(await school(cluster), 50, { capacity: 30, waitlist_capacity: 5 });
  const files = ([1, 2, 3] as const).map((n) => join(cluster.node(n).mount, 'enroll.db-pos'));
  const rows: Row[] = [];
  try {
    for (const phase of Object.keys(PHASES) as Array<keyof typeof PHASES>) {
      const txids: number[] = [];
      const onWrite = (txid: bigint | undefined) => {
        if (txid !== undefined) txids.push(Number(txid));
      };
      const op = enrollDropOp(ws, via, onWrite);
      let writes = 0;
      let reads = 0;
      let errors = 0;
      const wlat: number[] = [];
      const timed = async (w: number) => {
        const s = performance.now();
        try {
          await op(w, writes);
          writes += 1;
          wlat.push(performance.now() - s);
        } catch {
          errors += 1;
        }
      };
      const ownVisible = await Promise.all(
        ([1, 2, 3] as const).map((n) => histogramSince(cluster.node(n).enrollMetrics, 'course_commit_visible_seconds', { db: 'enroll.db', service: 'enroll', node: `node${n}` })),
      );
      const watcher = watchPositions(files);
      await sleep(50);
      const meter = cpuMeter(ctx.procs());
      const t0 = performance.now();
      if (phase === 'idle') {
        const count = ctx.pick(300, 50);
        for (let i = 0; i < count; i++) {
          await timed(0);
          await sleep(20);
        }
      } else {
        const end = Date.now() + ctx.pick(10_000, 2_000);
        const readers = phase === 'reads' ? replicaVias.flatMap((rv) => Array.from({ length: READERS_PER_REPLICA }, () => rv)) : [];
        await Promise.all([
          ...Array.from({ length: CONCURRENCY }, async (_, w) => {
            while (Date.now() < end) await timed(w);
          }),
          ...readers.map(async (rv) => {
            while (Date.now() < end) {
              try {
                await rv.catalogue(reader.token, 50);
                reads += 1;
              } catch {
                errors += 1;
              }
            }
          }),
        ]);
      }
      const seconds = (performance.now() - t0) / 1000;
      const cpu = meter();
      await sleep(1_000); // let the replicas catch up before the watcher stops
      const [primary, ...replicas] = await watcher.stop();
      const [onPrimary, ...own] = await Promise.all(ownVisible.map((since) => since()));
      const w = summarize(wlat);
      replicas.forEach((timeline, k) => {
        const n = k + 2;
        const mine = own[k];
        const ownNote =
          mine && onPrimary
            ? `; the services' metrics, the primary's LiteFS timestamp of a commit → the service hearing it is visible: on node${n} mean ${round(mine.mean * 1000)} ms over ${mine.count} commits, on node1 ${round(onPrimary.mean * 1000)} ms over ${onPrimary.count}`
            : '';
        const lags: number[] = [];
        let unseen = 0;
        for (const txid of new Set(txids)) {
          const tp = firstReach(primary!, txid);
          const tr = firstReach(timeline, txid);
          if (tp === undefined || tr === undefined) unseen += 1;
          else lags.push(Math.max(tr - tp, 0));
        }
        const l = summarize(lags);
        rows.push({
          scenario: name,
          variant: `node${n} lag, ${PHASES[phase]}`,
          ...(phase === 'idle' ? { baseline: true } : {}),
          mode: ctx.mode,
          concurrency: phase === 'idle' ? 1 : CONCURRENCY,
          requests: writes + errors,
          seconds: round(seconds),
          throughput: round(writes / seconds),
          p50_ms: round(l.p50),
          p99_ms: round(l.p99),
          max_ms: round(l.max),
          errors,
          notes: `ops/s = acknowledged writes/s; p50/p99 = lag, commit seen on node1 → seen on node${n} (0.5 ms polling); ` +
            (phase === 'reads' ? `${round(reads / seconds)} catalogue reads/s on the two replicas; ` : '') +
            `lag mean ${round(l.mean)}, max ${round(l.max)} ms over ${l.count} commits${unseen ? ` (${unseen} not observed)` : ''}; write latency p50 ${round(w.p50)} ms, p99 ${round(w.p99)} ms${ownNote}; ${formatCpu(cpu)}`,
          extra: {
            lag_mean_ms: round(l.mean),
            lag_max_ms: round(l.max),
            commits: l.count,
            unseen,
            write_p50_ms: round(w.p50),
            write_p99_ms: round(w.p99),
            replica_reads_per_s: round(reads / seconds),
            ...(mine && onPrimary
              ? { visible_mean_ms: round(mine.mean * 1000), visible_commits: mine.count, primary_visible_mean_ms: round(onPrimary.mean * 1000), primary_visible_commits: onPrimary.count }
              : {}),
          },
        });
        ctx.log(`${phase} node${n}: lag p50 ${round(l.p50)} p99 ${round(l.p99)} max ${round(l.max)} ms over ${l.count} commits (${round(writes / seconds)} writes/s)`);
      });
    }
  } finally {
    via.close();
    replicaVias.forEach((rv) => rv.close());
  }
  rows.push(...(await replicaReadStalls(ctx)));
  return rows;
}

/** Plain reads on node2's mount while node1 commits at each of STALL_COMMIT_RATES. */
async function replicaReadStalls(ctx: Context): Promise<Row[]> {
  const where = { primaryMount: ctx.cluster.node(1).mount, replicaMount: ctx.cluster.node(2).mount, file: 'stall.db' };
  await prepareReplicaReads(where);
  const rows: Row[] = [];
  for (const rate of STALL_COMMIT_RATES) {
    const meter = cpuMeter(ctx.procs());
    const r = await measureReplicaReads({ ...where, commitsPerSecond: rate, durationMs: ctx.pick(5_000, 1_500), slowMs: SLOW_READ_MS });
    const cpu = meter();
    const s = sorted(r.lat);
    const { slow } = r;
    const asleep = Math.max(slow.wallMs - slow.onCpuMs - slow.waitingMs, 0);
    const share = (x: number) => (slow.wallMs > 0 ? `${round((100 * x) / slow.wallMs)} %` : '–');
    rows.push({
      scenario: name,
      variant: `read on node2's mount (one-row read transaction, no service) while node1 commits ${rate}/s`,
      ...(rate === 0 ? { baseline: true } : {}),
      mode: ctx.mode,
      concurrency: 1,
      requests: s.length,
      seconds: round(r.seconds),
      throughput: round(s.length / r.seconds),
      p50_ms: round(percentile(s, 50)),
      p99_ms: round(percentile(s, 99)),
      max_ms: round(s[s.length - 1] ?? NaN),
      errors: 0,
      notes: `one reader thread, about 1 ms asleep between reads; ${r.commits} commits of one insert on node1 (a file of its own, no service); ` +
        `${slow.count} reads over ${SLOW_READ_MS} ms (${round((100 * slow.count) / Math.max(s.length, 1))} %), ${round(slow.wallMs)} ms in all: ` +
        `${share(asleep)} asleep in a system call, ${share(slow.waitingMs)} waiting for a core, ${share(slow.onCpuMs)} on a core` +
        (r.commits > 0 ? `; ${round(asleep / r.commits)} ms asleep per replicated commit` : '') +
        `; ${formatCpu(cpu)}`,
      extra: { commits: r.commits, slow_reads: slow.count, slow_ms: round(slow.wallMs), asleep_ms: round(asleep), waiting_ms: round(slow.waitingMs), on_cpu_ms: round(slow.onCpuMs) },
    });
    ctx.log(`reads on node2 while node1 commits ${rate}/s: p50 ${round(percentile(s, 50))} p99 ${round(percentile(s, 99))} ms; ${slow.count} slow, ${round(asleep)} ms asleep`);
  }
  return rows;
}

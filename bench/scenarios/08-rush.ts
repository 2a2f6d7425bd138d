/**
 * A registration rush through Envoy: thousands of students (tokens made before
 * timing starts), many sections, each student reading the catalogue, enrolling
 * into two sections (full ones put them on the waitlist or refuse), a quarter
 * dropping their first seat again (which promotes from the waitlist), and
 * reading their enrollments and waitlist. Half the students speak HTTP/JSON,
 * half native gRPC, all through Envoy; `RUSH_CONCURRENCY` students at a time.
 * Run on a cluster in each WRITE_MODE; only the rush itself is timed.
 *
 * Meanwhile, catalogue probes (paced readers, each on a thread of its own so
 * that the generator's busy event loop does not delay them; bench/lib/probe.ts)
 * measure read latency on the idle cluster just before the rush and during it,
 * through Envoy and straight on a replica (node3). A control probe reads the
 * same way from a bare grpc-js echo server beside the cluster: what a load
 * does to its p99 is what sharing the machine's cores does to any process,
 * with no product in the way. Each probe row also says how long the threads
 * of each process waited for a core each time they became runnable.
 *
 * On the group-commit cluster the rush's reads are then replayed alone (same
 * students, same concurrency, no writes): no write path can make the rush take
 * less time than its reads, so that time bounds what group commit can gain.
 * The replay repeats for as long as the rush took, with the probes running, so
 * their p99 with the same reads and no writes shows what the writes add.
 *
 * The rush above is a closed loop: 128 students always in flight, so it fills
 * every core and any request, the probes' too, queues behind the rest. Real
 * students arrive at a rate instead. So, on the group-commit cluster, paced
 * rushes follow: students arrive open-loop at a quarter and at half of the
 * closed-loop rush's rate (other students, fresh sections, the same steps,
 * seats scaled to keep the same share of full sections), and the probes
 * measure reads under a load that leaves the machine some headroom.
 *
 * Targets: rush throughput with group commit ≥ 10 × single; catalogue p99
 * during the rush ≤ 2 × idle (checked for the closed-loop rush and, apart,
 * for each paced one).
 */
import { runOpenLoop } from '../lib/capacity.js';
import { startEchoServer } from '../lib/echo-server.js';
import { startProbe, type Probe, type ProbeTarget } from '../lib/probe.js';
import { mapBounded, sleep } from '../lib/load.js';
import { cpuFields, cpuMeter, formatCpu, runQueueFields, type CpuReport } from '../lib/procs.js';
import { school, sections, students, type Person } from '../lib/school.js';
import { percentile, percentileRatioInterval, round, sorted, summarize } from '../lib/stats.js';
import type { Check, Context, Row } from '../lib/types.js';
import { grpcVia, httpVia, type Outcome, type Via } from '../lib/vias.js';
import { primaryCommits, replicated, withCommitTime, withWritesPerCommit } from '../lib/writes.js';
import { CONCURRENCY, PACED_ECHO, echoVariant } from './01-floor.js';

export const name = '08-rush';
export const title = 'registration rush through Envoy (group commit vs one transaction per request)';
export const modes = ['batch', 'single'] as const;

export const RUSH_CONCURRENCY = 128;
/** The paced rushes' arrival rates, as shares of the closed-loop rush's students/s. */
export const PACED_SHARES = [0.25, 0.5];
/**
 * Each paced rush lasts about this many times as long as the closed-loop one,
 * so that its probes make about 600 reads: a p99 from fewer rests on its
 * three slowest reads.
 */
const PACED_LENGTH = 2;
/** At most this many paced students in flight; one due while all are busy is shed (and counted). */
const PACED_SLOTS = 512;
/**
 * The probes: per target, one reader on a thread of its own (bench/lib/probe.ts),
 * pausing PROBE_PAUSE_MS between reads of one catalogue page. Light on
 * purpose, about 40 reads/s per target: a probe that reads as often as the
 * load it measures (two readers with 10 ms pauses made 250 catalogue reads/s,
 * more than the paced rushes' own operations, and kept the "idle" cluster half
 * busy) measures mostly itself.
 */
const PROBE_PAUSE_MS = 20;
const PROBE_PAGE = 50;

/** What a rush's operations record: latencies by kind, outcomes by rule, errors. */
interface Tally {
  writeLat: number[];
  readLat: number[];
  outcomes: Record<string, number>;
  errors: number;
  errorSamples: Set<string>;
  /** Writes answered with a TXID (a refusal commits nothing), and the distinct TXIDs: the group commits they made. */
  committed: number;
  txids: Set<bigint>;
}

type Timed = (kind: 'w' | 'r', label: string, f: () => Promise<Outcome>) => Promise<Outcome | undefined>;

function newTally(): Tally {
  return { writeLat: [], readLat: [], outcomes: {}, errors: 0, errorSamples: new Set(), committed: 0, txids: new Set() };
}

/** Times one operation into `t`; a real error is counted and sampled, and yields undefined. */
function timer(t: Tally): Timed {
  return async (kind, label, f) => {
    const s = performance.now();
    try {
      const out = await f();
      (kind === 'w' ? t.writeLat : t.readLat).push(performance.now() - s);
      if (kind === 'w') t.outcomes[`${label}:${out.result}`] = (t.outcomes[`${label}:${out.result}`] ?? 0) + 1;
      if (kind === 'w' && out.txid !== undefined) {
        t.committed += 1;
        t.txids.add(out.txid);
      }
      return out;
    } catch (err) {
      t.errors += 1;
      if (t.errorSamples.size < 5) t.errorSamples.add((err as Error).message.slice(0, 160));
      return undefined;
    }
  };
}

/**
 * One student's visit: read the catalogue, enroll into two sections half the
 * list apart (each of a course of its own), drop the first seat again (every
 * fourth student), read their enrollments, and their waitlist when they
 * landed on one (noted in `readsWaitlist`).
 */
async function studentSession(st: Person, i: number, via: Via, sids: number[], timed: Timed, readsWaitlist: Set<number>): Promise<void> {
  const S = sids.length;
  const a = sids[i % S]!;
  const b = sids[(i + Math.floor(S / 2)) % S]!;
  await timed('r', 'catalogue', () => via.catalogue(st.token, 50));
  const ea = await timed('w', 'enroll', () => via.enroll(st, a));
  const eb = await timed('w', 'enroll', () => via.enroll(st, b));
  if (ea?.result === 'enrolled' && i % 4 === 0) await timed('w', 'drop', () => via.drop(st, a));
  await timed('r', 'enrollments', () => via.enrollments(st));
  if (ea?.result === 'waitlisted' || eb?.result === 'waitlisted') {
    readsWaitlist.add(i);
    await timed('r', 'waitlist', () => via.waitlist(st));
  }
}

export async function run(ctx: Context): Promise<Row[]> {
  // The control probe's server: a process of its own beside the cluster's.
  const echo = await startEchoServer();
  try {
    return await rush(ctx, echo.address);
  } finally {
    echo.stop();
  }
}

async function rush(ctx: Context, echoAddress: string): Promise<Row[]> {
  const cluster = ctx.cluster;
  const N = ctx.pick(2000, 200);
  const S = ctx.pick(50, 10);
  const capacity = ctx.pick(64, 16);
  const waitlist = ctx.pick(8, 4);
  ctx.setting('rush', { students: N, sections: S, capacity, waitlist_capacity: waitlist, concurrency: RUSH_CONCURRENCY, probe: `1 reader per target on its own thread, ${PROBE_PAUSE_MS} ms pause` });

  ctx.log(`setup: ${S} sections, ${N} students (register + login on node1:7101; not timed)`);
  const setupStart = Date.now();
  const sc = await school(cluster);
  const sids = await sections(sc, S, { capacity, waitlist_capacity: waitlist });
  const people: Person[] = await students(cluster, N, 4);
  // The paced rushes (group commit only) take the rush's students, then these.
  const pacedWanted = ctx.mode === 'batch' ? Math.round(PACED_SHARES.reduce((a, b) => a + b, 0) * PACED_LENGTH * N) : 0;
  const pacedPeople = [...people, ...(pacedWanted > N ? await students(cluster, pacedWanted - N, 4) : [])];
  await replicated(cluster, 60_000);
  ctx.log(`setup done in ${Math.round((Date.now() - setupStart) / 1000)} s`);

  const probeToken = people[0]!.token;
  const probeTargets: Array<{ label: string; target: ProbeTarget }> = [
    { label: `catalogue probe ${VIA_ENVOY}`, target: { kind: 'http', name: 'probe-envoy' } },
    { label: `catalogue probe ${ON_NODE3}`, target: { kind: 'grpc', name: 'probe-node3', address: cluster.node(3).enrollGrpc } },
    { label: CONTROL_PROBE, target: { kind: 'echo', name: 'probe-echo', address: echoAddress } },
  ];
  /**
   * Runs `phase` while the probes read (one per target, on threads of their
   * own), and meters the processes' CPU over it. The probes stop when the
   * phase ends, also when it fails.
   */
  const whileProbing = async <T>(phase: () => Promise<T>): Promise<{ value: T; probes: Probe[]; cpu: CpuReport }> => {
    const started = await Promise.allSettled(probeTargets.map(({ target }) => startProbe({ target, token: probeToken, pageSize: PROBE_PAGE, pauseMs: PROBE_PAUSE_MS })));
    const running = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    const stopAll = () => Promise.allSettled(running.map((r) => r.stop()));
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) {
      await stopAll();
      throw failed.reason;
    }
    const meter = cpuMeter(ctx.procs());
    let value: T;
    try {
      value = await phase();
    } catch (err) {
      await stopAll();
      throw err;
    }
    const probes = await Promise.all(running.map((r) => r.stop()));
    return { value, probes, cpu: meter() };
  };
  const rows: Row[] = [];
  /** Each probe's latencies on the idle cluster, by target: what its p99 during a load is divided by. */
  const idleLat: number[][] = [];
  const probeRow = (label: string, phase: string, p: Probe, seconds: number, cpu: CpuReport, baseline: boolean, idle?: number[]): Row => {
    const s = sorted(p.lat);
    const interval = idle ? percentileRatioInterval(p.lat, idle, 99) : undefined;
    return {
      scenario: name, variant: `${label}, ${phase}`, mode: ctx.mode, concurrency: 1,
      ...(baseline ? { baseline: true } : {}),
      requests: p.lat.length + p.errors, seconds: round(seconds), throughput: round(p.lat.length / seconds),
      p50_ms: round(percentile(s, 50)), p99_ms: round(percentile(s, 99)), max_ms: round(s[s.length - 1] ?? NaN), errors: p.errors,
      notes: `paced reader on its own thread (${PROBE_PAUSE_MS} ms pause); ${formatCpu(cpu)}`,
      ...runQueueFields(cpu),
      ...(interval ? { extra: { [P99_RATIO_INTERVAL]: interval.map(round) } } : {}),
    };
  };

  // Idle: the probes alone, about 1,300 reads each: the p99 every probe during a load is divided by.
  {
    const idleMs = ctx.pick(30_000, 1_500);
    const { probes, cpu } = await whileProbing(() => sleep(idleMs));
    probes.forEach((p, i) => {
      idleLat[i] = p.lat;
      rows.push(probeRow(probeTargets[i]!.label, 'idle cluster', p, idleMs / 1000, cpu, true));
    });
  }

  // The rush.
  const vias = [httpVia('envoy-http'), grpcVia('envoy-grpc', '127.0.0.1:8080')];
  const tally = newTally();
  const { writeLat, readLat, outcomes, errorSamples } = tally;
  const timed = timer(tally);

  /** Which students read their waitlist in the rush, for the reads-only replay. */
  const readsWaitlist = new Set<number>();
  const onWriter = await primaryCommits(cluster);
  const { value: seconds, probes: probeResults, cpu } = await whileProbing(async () => {
    const t0 = performance.now();
    await mapBounded(people, RUSH_CONCURRENCY, (st, i) => studentSession(st, i, vias[i % 2]!, sids, timed, readsWaitlist));
    return (performance.now() - t0) / 1000;
  });

  const all = [...writeLat, ...readLat];
  const sAll = summarize(all);
  const sW = summarize(writeLat);
  const sR = summarize(readLat);
  const outcomeText = Object.entries(outcomes).sort().map(([k, v]) => `${k} ${v}`).join(', ');
  const base = { scenario: name, mode: ctx.mode, concurrency: RUSH_CONCURRENCY, seconds: round(seconds) };
  rows.push(withCommitTime(withWritesPerCommit({
    ...base, variant: `rush: all operations (${N} students, ${S} sections)`,
    requests: all.length + tally.errors, throughput: round(all.length / seconds), p50_ms: round(sAll.p50), p99_ms: round(sAll.p99), max_ms: round(sAll.max), errors: tally.errors,
    notes: `${round(N / seconds)} students/s; outcomes: ${outcomeText}; ${formatCpu(cpu)}${errorSamples.size ? `; errors e.g.: ${[...errorSamples].join(' / ')}` : ''}`,
    ...cpuFields(cpu, all.length),
    extra: { outcomes, students_per_s: round(N / seconds) },
  }, tally.committed, tally.txids.size), await onWriter()));
  rows.push({ ...base, variant: 'rush: writes (enroll, drop)', requests: writeLat.length, throughput: round(writeLat.length / seconds), p50_ms: round(sW.p50), p99_ms: round(sW.p99), max_ms: round(sW.max), errors: 0, notes: 'subset of the rush above; refusals by the rules (full) count as answers' });
  rows.push({ ...base, variant: 'rush: reads (catalogue, enrollments, waitlist)', requests: readLat.length, throughput: round(readLat.length / seconds), p50_ms: round(sR.p50), p99_ms: round(sR.p99), max_ms: round(sR.max), errors: 0, notes: 'subset of the rush above' });
  probeResults.forEach((p, i) => rows.push(probeRow(probeTargets[i]!.label, 'during the rush', p, seconds, cpu, false, idleLat[i])));
  ctx.log(`rush: ${round(all.length / seconds)} ops/s over ${round(seconds)} s, p50 ${round(sAll.p50)} p99 ${round(sAll.p99)} ms, errors ${tally.errors}; ${outcomeText}; ${formatCpu(cpu)}`);

  // The rush's reads alone, replayed after it: no write mode can make the rush
  // take less time than this on this cluster (once, on the group-commit cluster).
  if (ctx.mode === 'batch') {
    const lat: number[] = [];
    let readErrors = 0;
    const read = async (f: () => Promise<unknown>) => {
      const s = performance.now();
      try {
        await f();
        lat.push(performance.now() - s);
      } catch {
        readErrors += 1;
      }
    };
    const replay = () =>
      mapBounded(people, RUSH_CONCURRENCY, async (st, i) => {
        const via = vias[i % 2]!;
        await read(() => via.catalogue(st.token, 50));
        await read(() => via.enrollments(st));
        if (readsWaitlist.has(i)) await read(() => via.waitlist(st));
      });
    const { value: probeSeconds, probes: readProbeResults, cpu: probeCpu } = await whileProbing(async () => {
      // The first pass is timed, with the CPU it takes.
      const readMeter = cpuMeter(ctx.procs());
      const t1 = performance.now();
      await replay();
      const readSeconds = (performance.now() - t1) / 1000;
      const readCpu = readMeter();
      const timedReads = lat.length;
      const sRead = summarize(lat);
      rows.push({
        ...base, variant: READS_ALONE, seconds: round(readSeconds),
        requests: timedReads + readErrors, throughput: round(timedReads / readSeconds), p50_ms: round(sRead.p50), p99_ms: round(sRead.p99), max_ms: round(sRead.max), errors: readErrors,
        notes: `the rush's ${readLat.length} reads, same students and concurrency, no writes: a floor for the rush's duration in any write mode; ${formatCpu(readCpu)}`,
        ...cpuFields(readCpu, lat.length),
      });
      ctx.log(`the rush's reads alone: ${round(lat.length / readSeconds)} ops/s over ${round(readSeconds)} s (the rush took ${round(seconds)} s)`);
      // More passes, untimed, so the probes see as long a load as the rush's:
      // their p99 with the same reads but no writes shows what the writes add.
      while ((performance.now() - t1) / 1000 < seconds) await replay();
      return (performance.now() - t1) / 1000;
    });
    readProbeResults.forEach((p, i) => rows.push(probeRow(probeTargets[i]!.label, PROBE_READS_ALONE, p, probeSeconds, probeCpu, false, idleLat[i])));
  }

  // Paced rushes: students arrive open-loop at a share of the closed-loop
  // rush's rate while the probes read (group commit only). Each share gets
  // its own students (PACED_LENGTH × share × N of them, so each phase lasts
  // about PACED_LENGTH times as long as the rush) and S/2 fresh sections at
  // time slots none of them holds yet, with the seats scaled so the same
  // share of enrollments ends full.
  if (ctx.mode === 'batch') {
    const S2 = Math.max(2, Math.floor(S / 2));
    let firstStudent = 0;
    for (const share of PACED_SHARES) {
      const M = Math.min(Math.round(share * PACED_LENGTH * N), pacedPeople.length - firstStudent);
      const scale = (M / N) * (S / S2);
      const pacedCapacity = Math.max(1, Math.round(capacity * scale));
      const pacedWaitlist = Math.max(1, Math.round(waitlist * scale));
      const pacedSids = await sections(sc, S2, { capacity: pacedCapacity, waitlist_capacity: pacedWaitlist });
      await replicated(cluster, 60_000);
      const rate = Math.max(1, Math.round(share * (N / seconds)));
      const tallyP = newTally();
      const timedP = timer(tallyP);
      const group = pacedPeople.slice(firstStudent, firstStudent + M);
      firstStudent += M;
      let next = 0;
      const onWriterP = await primaryCommits(cluster);
      const { value: r, probes: probeResultsP, cpu: cpuP } = await whileProbing(() =>
        runOpenLoop({ rate, durationMs: ((M + 0.5) / rate) * 1000, slots: PACED_SLOTS }, () => {
          const i = next++;
          return studentSession(group[i]!, i, vias[i % 2]!, pacedSids, timedP, new Set());
        }));
      const ops = [...tallyP.writeLat, ...tallyP.readLat];
      const sOps = summarize(ops);
      const outcomeText = Object.entries(tallyP.outcomes).sort().map(([k, v]) => `${k} ${v}`).join(', ');
      const label = pacedLabel(share);
      rows.push(withCommitTime(withWritesPerCommit({
        ...base, variant: `${PACED_RUSH} (${label}): all operations, ${M} students arriving at ${rate}/s`, concurrency: PACED_SLOTS, seconds: round(r.seconds),
        requests: ops.length + tallyP.errors, throughput: round(ops.length / r.seconds), p50_ms: round(sOps.p50), p99_ms: round(sOps.p99), max_ms: round(sOps.max), errors: tallyP.errors,
        notes: `open loop: ${r.shed} students shed (one is shed when all ${PACED_SLOTS} slots are busy); a student's visit p50 ${round(r.p50_ms)} p99 ${round(r.p99_ms)} ms from arrival; ` +
          `${S2} fresh sections of capacity ${pacedCapacity} (waitlist ${pacedWaitlist}); outcomes: ${outcomeText}; ${formatCpu(cpuP)}` +
          (tallyP.errorSamples.size ? `; errors e.g.: ${[...tallyP.errorSamples].join(' / ')}` : ''),
        ...cpuFields(cpuP, ops.length),
        extra: { outcomes: tallyP.outcomes, share, rate, shed: r.shed },
      }, tallyP.committed, tallyP.txids.size), await onWriterP()));
      probeResultsP.forEach((p, i) => rows.push(probeRow(probeTargets[i]!.label, `during the ${PACED_RUSH} (${label})`, p, r.seconds, cpuP, false, idleLat[i])));
      ctx.log(`paced rush (${label}): ${M} students at ${rate}/s, ${round(ops.length / r.seconds)} ops/s, shed ${r.shed}, errors ${tallyP.errors}; ` +
        `probe p99 ${probeResultsP.map((p) => round(percentile(sorted(p.lat), 99))).join(' / ')} ms; ${formatCpu(cpuP)}`);
    }
  }
  for (const v of vias) v.close();
  return rows;
}

const READS_ALONE = 'rush: its reads alone (no writes), replayed after it';
const VIA_ENVOY = 'via Envoy HTTP/JSON';
const ON_NODE3 = 'straight on replica node3 gRPC';
/**
 * The control: the same paced reader against a bare grpc-js echo server (1
 * KiB each way), a process of its own with no product in the way. What the
 * load does to its p99 is what sharing two cores does to any process here.
 */
const CONTROL_PROBE = 'control probe: a bare grpc-js echo server (no product), 1 KiB';
const PACED_RUSH = 'paced rush';
const pacedLabel = (share: number) => `${share * 100} % of the closed-loop rate`;
const PROBE_READS_ALONE = "during the rush's reads alone (no writes)";
/** A probe row's 95 % bootstrap interval of its p99 ÷ the idle probe's p99 (bench/lib/stats.ts). */
const P99_RATIO_INTERVAL = 'p99_ratio_to_idle_95';
const intervalOf = (r: Row) => r.extra?.[P99_RATIO_INTERVAL] as [number, number] | undefined;

/** What a call that arrives alone costs the bare echo server against one of a stream (scenario 01), when both ran. */
function loneCallCost(rows: Row[]): string {
  const echoCpu = (variant: string) => rows.find((r) => r.scenario === '01-floor' && r.variant === variant)?.cpu_ms_per_request?.['echo-server'];
  const alone = echoCpu(PACED_ECHO);
  const stream = echoCpu(echoVariant(CONCURRENCY));
  return alone === undefined || stream === undefined ? '' : ` (a call arriving alone costs even the bare echo server ${alone} ms of CPU, against ${stream} ms at ${CONCURRENCY} in flight)`;
}

export function checks(rows: Row[]): Check[] {
  const out: Check[] = [];
  const rush = (mode: string) => rows.find((r) => r.scenario === name && r.mode === mode && r.variant.startsWith('rush: all'));
  const batch = rush('batch');
  const single = rush('single');
  if (batch && single) {
    const ratio = batch.throughput / single.throughput;
    const sw = rows.find((r) => r.scenario === name && r.mode === 'single' && r.variant.startsWith('rush: writes'));
    out.push({
      target: 'rush throughput with group commit ≥ 10 × one transaction per request',
      measured: `${batch.throughput} / ${single.throughput} ops/s`,
      ratio,
      goal: '>= 10',
      met: ratio >= 10,
      bound: ratio >= 10 ? undefined
        : `${readsBound(rows, single)}batch rush is CPU-bound: machine ${batch.cpu_cores?.machine ?? '?'}/2 cores busy, ${batch.cpu_ms_per_request?.machine ?? '?'} ms CPU per operation ` +
          `(top: ${topCpu(batch)}), ${batch.extra?.writes_per_commit ?? '?'} writes per commit; single rush writes ${sw?.throughput ?? '?'}/s (FUSE commit-bound, machine ${single.cpu_cores?.machine ?? '?'}/2 busy)`,
    });
  }
  for (const target of [VIA_ENVOY, ON_NODE3]) {
    const idle = rows.find((r) => r.scenario === name && r.mode === 'batch' && r.variant === `catalogue probe ${target}, idle cluster`);
    const busy = rows.find((r) => r.scenario === name && r.mode === 'batch' && r.variant === `catalogue probe ${target}, during the rush`);
    if (!idle || !busy) continue;
    const readsOnly = rows.find((r) => r.scenario === name && r.mode === 'batch' && r.variant === `catalogue probe ${target}, ${PROBE_READS_ALONE}`);
    const ratio = busy.p99_ms / idle.p99_ms;
    out.push({
      target: `catalogue reads during the rush: p99 ≤ 2 × idle (${target}, group commit)`,
      measured: `${busy.p99_ms} / ${idle.p99_ms} ms p99`,
      ratio,
      interval: intervalOf(busy),
      goal: '<= 2',
      met: ratio <= 2,
      bound: ratio <= 2 ? undefined
        : `mostly CPU contention: the closed-loop rush kept the machine ${batch?.cpu_cores?.machine ?? '?'}/2 cores busy (top: ${batch ? topCpu(batch) : '?'}); p50 ${busy.p50_ms} vs ${idle.p50_ms} ms; ${queueing(busy, idle, target)}${control(rows, 'during the rush')}. ` +
          `Reads never take SQLite's write lock, but on a replica they wait while LiteFS applies a replicated commit (scenario 07, reads on node2's mount); group commit keeps those commits few` +
          (readsOnly ? `; with the rush's reads alone and no writes, p99 is already ${readsOnly.p99_ms} ms (${round(readsOnly.p99_ms / idle.p99_ms)} × idle)` : ''),
    });
    for (const share of PACED_SHARES) {
      const label = pacedLabel(share);
      const paced = rows.find((r) => r.scenario === name && r.mode === 'batch' && r.variant === `catalogue probe ${target}, during the ${PACED_RUSH} (${label})`);
      const pacedRush = rows.find((r) => r.scenario === name && r.mode === 'batch' && r.variant.startsWith(`${PACED_RUSH} (${label}): all`));
      if (!paced || !pacedRush) continue;
      const ratioP = paced.p99_ms / idle.p99_ms;
      out.push({
        target: `catalogue reads during a paced rush (students arriving at ${label}): p99 ≤ 2 × idle (${target}, group commit)`,
        measured: `${paced.p99_ms} / ${idle.p99_ms} ms p99`,
        ratio: ratioP,
        interval: intervalOf(paced),
        goal: '<= 2',
        met: ratioP <= 2,
        bound: ratioP <= 2 ? undefined
          : `the machine was ${pacedRush.cpu_cores?.machine ?? '?'}/2 cores busy during the paced rush (top: ${topCpu(pacedRush)}; ${pacedRush.extra?.writes_per_commit ?? '?'} writes per commit); ` +
            `${pacedRush.cpu_ms_per_request?.machine ?? '?'} ms of CPU per operation against ${batch?.cpu_ms_per_request?.machine ?? '?'} in the closed-loop rush${loneCallCost(rows)}; p50 ${paced.p50_ms} vs ${idle.p50_ms} ms; ${queueing(paced, idle, target)}${control(rows, `during the ${PACED_RUSH} (${label})`)}`,
      });
    }
  }
  return out;
}

/** "Even free writes could give at most N ×": the single rush's time over the time of its reads alone. */
function readsBound(rows: Row[], single: Row): string {
  const reads = rows.find((r) => r.scenario === name && r.mode === 'batch' && r.variant === READS_ALONE);
  if (!reads) return '';
  return `the rush's reads alone take ${reads.seconds} s (${reads.cpu_ms_per_request?.machine ?? '?'} ms CPU each), so even writes that cost nothing would make the rush at most ${round(single.seconds / reads.seconds)} × the single rush (${single.seconds} s); `;
}

/**
 * "each time a thread on the probe's path became runnable it waited for a
 * core 0.9 ms in envoy, … on average, against 0.05, … idle".
 */
function queueing(during: Row, idle: Row, target: string): string {
  const node3 = 'enroll@node3 main thread';
  const names = target === VIA_ENVOY ? ['envoy', 'enroll@node2 main thread', node3, 'loadgen'] : [node3, 'loadgen'];
  const delay = (r: Row, n: string) => r.run_queue_delay_ms?.[n];
  const shown = names.filter((n) => delay(during, n) !== undefined);
  if (shown.length === 0) return 'run-queue delays not measured';
  const ms = (v: number | undefined) => (v === undefined ? '?' : String(round(v)));
  return `each time a thread on the probe's path became runnable it waited for a core ${shown.map((n) => `${ms(delay(during, n))} ms in ${n}`).join(', ')} on average, ` +
    `against ${shown.map((n) => ms(delay(idle, n))).join(', ')} ms idle (loadgen: the probe's thread and the students')`;
}

/** "; the control probe (…): p99 9.1 against 4.2 ms idle, 2.17 ×", when it ran in both phases. */
function control(rows: Row[], phase: string): string {
  const at = (p: string) => rows.find((r) => r.scenario === name && r.mode === 'batch' && r.variant === `${CONTROL_PROBE}, ${p}`);
  const idle = at('idle cluster');
  const during = at(phase);
  if (!idle || !during) return '';
  return `; the ${CONTROL_PROBE} in the same phase: p99 ${during.p99_ms} against ${idle.p99_ms} ms idle, ${round(during.p99_ms / idle.p99_ms)} ×`;
}

function topCpu(r: Row): string {
  return Object.entries(r.cpu_cores ?? {}).filter(([k]) => k !== 'machine').sort((a, b) => b[1] - a[1]).slice(0, 4).map(([k, v]) => `${k} ${v}`).join(', ');
}

/**
 * A registration rush through Envoy: thousands of students (tokens made before
 * timing starts), many sections, each student reading the catalogue, enrolling
 * into two sections (full ones put them on the waitlist or refuse), a quarter
 * dropping their first seat again (which promotes from the waitlist), and
 * reading their enrollments and waitlist. Half the students speak HTTP/JSON,
 * half native gRPC, all through Envoy; `RUSH_CONCURRENCY` students at a time.
 * Run on a cluster in each WRITE_MODE; only the rush itself is timed.
 *
 * Meanwhile, catalogue probes (a few paced readers) measure read latency on the
 * idle cluster just before the rush and during it, through Envoy and straight
 * on a replica (node3).
 *
 * On the group-commit cluster the rush's reads are then replayed alone (same
 * students, same concurrency, no writes): no write path can make the rush take
 * less time than its reads, so that time bounds what group commit can gain.
 * The replay repeats for as long as the rush took, with the probes running, so
 * their p99 with the same reads and no writes shows what the writes add.
 *
 * Targets: rush throughput with group commit ≥ 10 × single; catalogue p99
 * during the rush ≤ 2 × idle.
 */
import { mapBounded, sleep } from '../lib/load.js';
import { cpuFields, cpuMeter, formatCpu, type CpuReport } from '../lib/procs.js';
import { school, sections, students, type Person } from '../lib/school.js';
import { percentile, round, sorted, summarize } from '../lib/stats.js';
import type { Check, Context, Row } from '../lib/types.js';
import { grpcVia, httpVia, type Outcome, type Via } from '../lib/vias.js';
import { replicated } from '../lib/writes.js';

export const name = '08-rush';
export const title = 'registration rush through Envoy (group commit vs one transaction per request)';
export const modes = ['batch', 'single'] as const;

export const RUSH_CONCURRENCY = 128;
const PROBE_WORKERS = 2;
const PROBE_PAUSE_MS = 10;

interface Probe {
  lat: number[];
  errors: number;
}

/** Paced catalogue readers: each reads, pauses PROBE_PAUSE_MS, reads again, until stop(). */
function startProbe(via: Via, token: string): { stop(): Promise<Probe> } {
  const probe: Probe = { lat: [], errors: 0 };
  let running = true;
  const loops = Array.from({ length: PROBE_WORKERS }, async () => {
    while (running) {
      const s = performance.now();
      try {
        await via.catalogue(token, 50);
        probe.lat.push(performance.now() - s);
      } catch {
        probe.errors += 1;
      }
      await sleep(PROBE_PAUSE_MS);
    }
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      return probe;
    },
  };
}

export async function run(ctx: Context): Promise<Row[]> {
  const cluster = ctx.cluster;
  const N = ctx.pick(2000, 200);
  const S = ctx.pick(50, 10);
  const capacity = ctx.pick(64, 16);
  const waitlist = ctx.pick(8, 4);
  ctx.setting('rush', { students: N, sections: S, capacity, waitlist_capacity: waitlist, concurrency: RUSH_CONCURRENCY, probe: `${PROBE_WORKERS} readers per target, ${PROBE_PAUSE_MS} ms pause` });

  ctx.log(`setup: ${S} sections, ${N} students (register + login on node1:7101; not timed)`);
  const setupStart = Date.now();
  const sc = await school(cluster);
  const sids = await sections(sc, S, { capacity, waitlist_capacity: waitlist });
  const people: Person[] = await students(cluster, N, 4);
  await replicated(cluster, 60_000);
  ctx.log(`setup done in ${Math.round((Date.now() - setupStart) / 1000)} s`);

  const probeToken = people[0]!.token;
  const probeTargets = [
    { label: 'via Envoy HTTP/JSON', make: () => httpVia('probe-envoy') },
    { label: 'straight on replica node3 gRPC', make: () => grpcVia('probe-node3', cluster.node(3).enrollGrpc) },
  ];
  const probeVias = probeTargets.map((t) => t.make());
  const rows: Row[] = [];
  const probeRow = (label: string, phase: string, p: Probe, seconds: number, cpu: CpuReport, baseline: boolean): Row => {
    const s = sorted(p.lat);
    return {
      scenario: name, variant: `catalogue probe ${label}, ${phase}`, mode: ctx.mode, concurrency: PROBE_WORKERS,
      ...(baseline ? { baseline: true } : {}),
      requests: p.lat.length + p.errors, seconds: round(seconds), throughput: round(p.lat.length / seconds),
      p50_ms: round(percentile(s, 50)), p99_ms: round(percentile(s, 99)), max_ms: round(s[s.length - 1] ?? NaN), errors: p.errors,
      notes: `paced readers (${PROBE_PAUSE_MS} ms pause); ${formatCpu(cpu)}`,
    };
  };

  // Idle: the probes alone.
  {
    const meter = cpuMeter(ctx.procs());
    const t0 = performance.now();
    const running = probeVias.map((v) => startProbe(v, probeToken));
    await sleep(ctx.pick(5_000, 1_500));
    const results = await Promise.all(running.map((r) => r.stop()));
    const seconds = (performance.now() - t0) / 1000;
    const cpu = meter();
    results.forEach((p, i) => rows.push(probeRow(probeTargets[i]!.label, 'idle cluster', p, seconds, cpu, true)));
  }

  // The rush.
  const vias = [httpVia('envoy-http'), grpcVia('envoy-grpc', '127.0.0.1:8080')];
  const writeLat: number[] = [];
  const readLat: number[] = [];
  const outcomes: Record<string, number> = {};
  const errorSamples = new Set<string>();
  let errors = 0;
  const timed = async (kind: 'w' | 'r', label: string, f: () => Promise<Outcome>): Promise<Outcome | undefined> => {
    const s = performance.now();
    try {
      const out = await f();
      (kind === 'w' ? writeLat : readLat).push(performance.now() - s);
      if (kind === 'w') outcomes[`${label}:${out.result}`] = (outcomes[`${label}:${out.result}`] ?? 0) + 1;
      return out;
    } catch (err) {
      errors += 1;
      if (errorSamples.size < 5) errorSamples.add((err as Error).message.slice(0, 160));
      return undefined;
    }
  };

  const meter = cpuMeter(ctx.procs());
  const probes = probeVias.map((v) => startProbe(v, probeToken));
  const t0 = performance.now();
  /** Which students read their waitlist in the rush, for the reads-only replay. */
  const readsWaitlist = new Set<number>();
  await mapBounded(people, RUSH_CONCURRENCY, async (st, i) => {
    const via = vias[i % 2]!;
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
  });
  const seconds = (performance.now() - t0) / 1000;
  const probeResults = await Promise.all(probes.map((p) => p.stop()));
  const cpu = meter();

  const all = [...writeLat, ...readLat];
  const sAll = summarize(all);
  const sW = summarize(writeLat);
  const sR = summarize(readLat);
  const outcomeText = Object.entries(outcomes).sort().map(([k, v]) => `${k} ${v}`).join(', ');
  const base = { scenario: name, mode: ctx.mode, concurrency: RUSH_CONCURRENCY, seconds: round(seconds) };
  rows.push({
    ...base, variant: `rush: all operations (${N} students, ${S} sections)`,
    requests: all.length + errors, throughput: round(all.length / seconds), p50_ms: round(sAll.p50), p99_ms: round(sAll.p99), max_ms: round(sAll.max), errors,
    notes: `${round(N / seconds)} students/s; outcomes: ${outcomeText}; ${formatCpu(cpu)}${errorSamples.size ? `; errors e.g.: ${[...errorSamples].join(' / ')}` : ''}`,
    ...cpuFields(cpu, all.length),
    extra: { outcomes, students_per_s: round(N / seconds) },
  });
  rows.push({ ...base, variant: 'rush: writes (enroll, drop)', requests: writeLat.length, throughput: round(writeLat.length / seconds), p50_ms: round(sW.p50), p99_ms: round(sW.p99), max_ms: round(sW.max), errors: 0, notes: 'subset of the rush above; refusals by the rules (full) count as answers' });
  rows.push({ ...base, variant: 'rush: reads (catalogue, enrollments, waitlist)', requests: readLat.length, throughput: round(readLat.length / seconds), p50_ms: round(sR.p50), p99_ms: round(sR.p99), max_ms: round(sR.max), errors: 0, notes: 'subset of the rush above' });
  probeResults.forEach((p, i) => rows.push(probeRow(probeTargets[i]!.label, 'during the rush', p, seconds, cpu, false)));
  ctx.log(`rush: ${round(all.length / seconds)} ops/s over ${round(seconds)} s, p50 ${round(sAll.p50)} p99 ${round(sAll.p99)} ms, errors ${errors}; ${outcomeText}; ${formatCpu(cpu)}`);

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
    const readMeter = cpuMeter(ctx.procs());
    const probeMeter = cpuMeter(ctx.procs());
    const readProbes = probeVias.map((v) => startProbe(v, probeToken));
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
    const probeSeconds = (performance.now() - t1) / 1000;
    const readProbeResults = await Promise.all(readProbes.map((p) => p.stop()));
    const probeCpu = probeMeter();
    readProbeResults.forEach((p, i) => rows.push(probeRow(probeTargets[i]!.label, PROBE_READS_ALONE, p, probeSeconds, probeCpu, false)));
  }
  for (const v of [...vias, ...probeVias]) v.close();
  return rows;
}

const READS_ALONE = 'rush: its reads alone (no writes), replayed after it';
const PROBE_READS_ALONE = "during the rush's reads alone (no writes)";

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
          `(top: ${topCpu(batch)}); single rush writes ${sw?.throughput ?? '?'}/s (FUSE commit-bound, machine ${single.cpu_cores?.machine ?? '?'}/2 busy)`,
    });
  }
  for (const target of ['via Envoy HTTP/JSON', 'straight on replica node3 gRPC']) {
    const idle = rows.find((r) => r.scenario === name && r.mode === 'batch' && r.variant === `catalogue probe ${target}, idle cluster`);
    const busy = rows.find((r) => r.scenario === name && r.mode === 'batch' && r.variant === `catalogue probe ${target}, during the rush`);
    if (!idle || !busy) continue;
    const readsOnly = rows.find((r) => r.scenario === name && r.mode === 'batch' && r.variant === `catalogue probe ${target}, ${PROBE_READS_ALONE}`);
    const ratio = busy.p99_ms / idle.p99_ms;
    out.push({
      target: `catalogue reads during the rush: p99 ≤ 2 × idle (${target}, group commit)`,
      measured: `${busy.p99_ms} / ${idle.p99_ms} ms p99`,
      ratio,
      goal: '<= 2',
      met: ratio <= 2,
      bound: ratio <= 2 ? undefined
        : `CPU contention, not locks: reads never take the write lock (WAL; replicas never write), yet the machine was ${batch?.cpu_cores?.machine ?? '?'}/2 cores busy during the rush (top: ${batch ? topCpu(batch) : '?'}); p50 ${busy.p50_ms} vs ${idle.p50_ms} ms` +
          (readsOnly ? `; with the rush's reads alone and no writes, p99 is already ${readsOnly.p99_ms} ms (${round(readsOnly.p99_ms / idle.p99_ms)} × idle)` : ''),
    });
  }
  return out;
}

/** "Even free writes could give at most N ×": the single rush's time over the time of its reads alone. */
function readsBound(rows: Row[], single: Row): string {
  const reads = rows.find((r) => r.scenario === name && r.mode === 'batch' && r.variant === READS_ALONE);
  if (!reads) return '';
  return `the rush's reads alone take ${reads.seconds} s (${reads.cpu_ms_per_request?.machine ?? '?'} ms CPU each), so even writes that cost nothing would make the rush at most ${round(single.seconds / reads.seconds)} × the single rush (${single.seconds} s); `;
}

function topCpu(r: Row): string {
  return Object.entries(r.cpu_cores ?? {}).filter(([k]) => k !== 'machine').sort((a, b) => b[1] - a[1]).slice(0, 4).map(([k, v]) => `${k} ${v}`).join(', ');
}

/**
 * Open-loop load and the capacity search built on it.
 *
 * The closed loop of load.ts keeps a fixed population of requests in flight.
 * Against group commit that population moves as one convoy: a batch takes
 * every request in flight, so the client, the replica (or Envoy) and the
 * primary each work on the whole population in turn and mostly wait for one
 * another. Students on registration day do not wait for each other: they
 * arrive at a rate. `runOpenLoop` sends requests at a fixed rate whatever the
 * answers, with latency counted from the moment each request was due (so a
 * slow system cannot hide its queue), and `findCapacity` searches for the
 * highest rate a path sustains within a latency bound.
 */
import type { Op } from './load.js';
import { percentile, sorted } from './stats.js';

export interface OpenLoopOptions {
  /** Requests per second to send. */
  rate: number;
  durationMs: number;
  /**
   * At most this many requests in flight: `op` gets a free slot number
   * (0..slots-1), so a slot can stand for one client with one request at a
   * time. A request due while every slot is busy is shed: the path is over
   * its capacity.
   */
  slots: number;
}

export interface OpenLoopResult {
  offered: number;
  /** Answered requests per second, over the time until the last answer. */
  throughput: number;
  requests: number;
  errors: number;
  shed: number;
  seconds: number;
  /** Latency from when the request was due, not when it was sent. */
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
  errorSamples: string[];
}

const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

let globalIndex = 0;

export function runOpenLoop(opts: OpenLoopOptions, op: Op): Promise<OpenLoopResult> {
  const total = Math.max(1, Math.floor((opts.rate * opts.durationMs) / 1000));
  const interval = 1000 / opts.rate;
  const free = Array.from({ length: opts.slots }, (_, i) => opts.slots - 1 - i);
  const lat: number[] = [];
  const samples = new Set<string>();
  let issued = 0;
  let pending = 0;
  let errors = 0;
  let shed = 0;
  const t0 = nowMs();

  return new Promise((resolve) => {
    const done = () => {
      const seconds = (nowMs() - t0) / 1000;
      const s = sorted(lat);
      resolve({
        offered: opts.rate,
        throughput: s.length / seconds,
        requests: issued,
        errors,
        shed,
        seconds,
        p50_ms: percentile(s, 50),
        p99_ms: percentile(s, 99),
        max_ms: s.length ? s[s.length - 1]! : Number.NaN,
        errorSamples: [...samples],
      });
    };
    const send = (due: number) => {
      const slot = free.pop();
      if (slot === undefined) {
        shed += 1;
        return;
      }
      pending += 1;
      op(slot, globalIndex++).then(
        () => lat.push(nowMs() - due),
        (err: unknown) => {
          errors += 1;
          if (samples.size < 5) samples.add(err instanceof Error ? err.message.slice(0, 160) : String(err));
        },
      ).finally(() => {
        free.push(slot);
        pending -= 1;
        if (issued === total && pending === 0) done();
      });
    };
    // Timers fire about once a millisecond at best: each tick sends every request now due.
    const tick = () => {
      const elapsed = nowMs() - t0;
      const due = Math.min(total, Math.floor(elapsed / interval) + 1);
      while (issued < due) send(t0 + interval * issued++);
      if (issued < total) setTimeout(tick, 1);
      else if (pending === 0) done();
    };
    tick();
  });
}

export interface CapacityOptions {
  /** A rate to start from, e.g. the closed-loop throughput of the same path. */
  hint: number;
  slots: number;
  /** The latency bound a sustained rate keeps: p99 at most this. */
  p99BoundMs: number;
  probeMs: number;
  /** Each probe's own warm-up at its rate (not recorded). */
  warmupMs: number;
  /** At most this many bisection probes after the first failing rate (default 3). */
  refineSteps?: number;
  /**
   * Further tries at a rate that failed before it counts as failed (default
   * 1). On a shared machine one probe can fail on a neighbour's burst; a
   * search that took that as the path's limit would stop below it (one did at
   * 1,922/s, and a search of the same path minutes later reached 2,442/s).
   */
  retries?: number;
  log?: (message: string) => void;
}

export interface Probe {
  rate: number;
  /** The probe that decided: the first that held, or the last that failed. */
  result: OpenLoopResult;
  sustained: boolean;
  /** Probes run at this rate: 1 when the first held. */
  tries: number;
}

/** Bisection stops once the failed rate is within this share of the held one. */
const RESOLUTION = 0.04;

/** Sustained: nothing shed or failed, answers keep up with the offer, p99 within the bound. */
export function sustains(r: OpenLoopResult, p99BoundMs: number): boolean {
  return r.shed === 0 && r.errors === 0 && r.throughput >= 0.95 * r.offered && r.p99_ms <= p99BoundMs;
}

/**
 * The highest sustained rate: from `hint`, up by a quarter until a rate fails
 * (or down by a third until one holds), then bisection between the best held
 * and the lowest failed rate, until they are within 4 % or `refineSteps` run
 * out. A rate fails only when every one of its 1 + `retries` probes fails.
 * `measure` runs one probe (the caller wraps it in its CPU meter); every rate
 * is returned in the order tried, with the probe that decided it.
 */
export async function findCapacity(
  opts: CapacityOptions,
  measure: (o: OpenLoopOptions) => Promise<OpenLoopResult>,
): Promise<{ best?: Probe; probes: Probe[] }> {
  const probes: Probe[] = [];
  const attempts = 1 + (opts.retries ?? 1);
  const probe = async (rate: number): Promise<Probe> => {
    const r = Math.round(rate);
    let p: Probe | undefined;
    for (let tries = 1; tries <= attempts && !p?.sustained; tries++) {
      await measure({ rate: r, durationMs: opts.warmupMs, slots: opts.slots });
      const result = await measure({ rate: r, durationMs: opts.probeMs, slots: opts.slots });
      p = { rate: r, result, sustained: sustains(result, opts.p99BoundMs), tries };
      opts.log?.(`open loop at ${r}/s (try ${tries}): ${result.throughput.toFixed(0)}/s answered, p99 ${result.p99_ms.toFixed(1)} ms, shed ${result.shed}, errors ${result.errors}: ${p.sustained ? 'sustained' : 'not sustained'}`);
    }
    probes.push(p!);
    return p!;
  };

  let good: Probe | undefined;
  let bad: Probe | undefined;
  let p = await probe(opts.hint);
  if (p.sustained) {
    good = p;
    for (let i = 0; i < 8 && !bad; i++) {
      p = await probe(good.rate * 1.25);
      if (p.sustained) good = p;
      else bad = p;
    }
  } else {
    bad = p;
    for (let i = 0; i < 8 && !good; i++) {
      p = await probe(bad.rate / 1.5);
      if (p.sustained) good = p;
      else bad = p;
    }
  }
  for (let i = 0; i < (opts.refineSteps ?? 3) && good && bad && bad.rate - good.rate > good.rate * RESOLUTION; i++) {
    p = await probe((good.rate + bad.rate) / 2);
    if (p.sustained) good = p;
    else bad = p;
  }
  return { best: good, probes };
}

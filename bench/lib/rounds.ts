/**
 * Two loads measured in short alternating rounds (A B B A A B …) instead of
 * one long window each, one after the other. This machine's speed drifts
 * within minutes (the bare echo ran anywhere from 6,050 to 8,885 calls/s at
 * 256 in flight in runs of one day), and a ratio of two long windows taken
 * minutes apart carries that drift. In alternating rounds a steady drift
 * moves both sides alike; the ratio is of the requests of all rounds.
 */
import { runLoad, type LoadResult, type Op } from './load.js';
import { round } from './stats.js';
import type { Context, Row } from './types.js';

/** How many rounds of each side the scenarios run, and how long each lasts (--quick: 0.5 s). */
const ROUNDS = 6;
const ROUND_MS = 3_000;
const QUICK_ROUND_MS = 500;

/** The suffix of both rows' variants. */
export const ALTERNATING = 'alternating rounds';

export interface Side {
  op: Op;
  /** The row's variant, without the suffix. */
  variant: string;
  notes: string;
}

export interface RoundsSpec {
  concurrency: number;
  rounds: number;
  roundMs: number;
  warmupMs: number;
}

/** The scenarios' rounds at `concurrency`: ROUNDS of ROUND_MS each (QUICK_ROUND_MS with --quick), 300 ms warm-up. */
export function roundsFor(ctx: Pick<Context, 'pick'>, concurrency: number): RoundsSpec {
  return { concurrency, rounds: ROUNDS, roundMs: ctx.pick(ROUND_MS, QUICK_ROUND_MS), warmupMs: 300 };
}

/** Sums rounds into one result: their requests over their time. Latency is left to the long windows. */
export function pooled(rs: LoadResult[]): LoadResult {
  const requests = rs.reduce((n, r) => n + r.requests, 0);
  const errors = rs.reduce((n, r) => n + r.errors, 0);
  const seconds = rs.reduce((n, r) => n + r.seconds, 0);
  return {
    requests, errors, seconds,
    throughput: (requests - errors) / seconds,
    p50_ms: Number.NaN, p99_ms: Number.NaN, max_ms: Number.NaN,
    errorSamples: [...new Set(rs.flatMap((r) => r.errorSamples))].slice(0, 5),
  };
}

/** The order of the sides in round i: A B, then B A, and so on. */
export function sidesOf(i: number): ['a', 'b'] | ['b', 'a'] {
  return i % 2 === 0 ? ['a', 'b'] : ['b', 'a'];
}

/**
 * Runs `base` (the baseline, A) and `other` (B) in `spec.rounds` rounds each,
 * alternating, and gives two rows: each side's requests over its rounds' time,
 * with every pair's ratio B ÷ A in B's notes.
 */
export async function alternatingRounds(ctx: Context, spec: RoundsSpec, base: Side, other: Side): Promise<[Row, Row]> {
  const results = { a: [] as LoadResult[], b: [] as LoadResult[] };
  for (let i = 0; i < spec.rounds; i++) {
    for (const side of sidesOf(i)) {
      const op = side === 'a' ? base.op : other.op;
      results[side].push(await runLoad({ concurrency: spec.concurrency, durationMs: spec.roundMs, warmupMs: spec.warmupMs }, op));
    }
  }
  const perPair = results.a.map((a, i) => round(results.b[i]!.throughput / a.throughput)).join(', ');
  const how = `${spec.rounds} rounds of ${spec.roundMs / 1000} s each side, alternating (ABBA…); latency: see the long windows`;
  const c = spec.concurrency;
  const baseRow = ctx.row({ variant: `${base.variant}, ${ALTERNATING}`, baseline: true, concurrency: c, durationMs: spec.roundMs, notes: `${base.notes}; ${how}` }, pooled(results.a));
  const otherRow = ctx.row({ variant: `${other.variant}, ${ALTERNATING}`, concurrency: c, durationMs: spec.roundMs, notes: `${other.notes}; ${how}; ÷ baseline per pair of rounds: ${perPair}` }, pooled(results.b));
  ctx.log(`${other.variant} ÷ ${base.variant} in ${ALTERNATING}: ${round(otherRow.throughput / baseRow.throughput)} (per pair: ${perPair})`);
  return [baseRow, otherRow];
}

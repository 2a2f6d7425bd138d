/** Percentiles and small number helpers for benchmark figures. */
import { seededRandom } from '../../test/support/seeded-random.js';

/** Nearest-rank percentile of an ascending array (p in 0..100); NaN when empty. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(Math.max(rank, 1), sorted.length) - 1]!;
}

/** Ascending copy as a Float64Array (fast numeric sort). */
export function sorted(values: ArrayLike<number>): Float64Array {
  return Float64Array.from(values as ArrayLike<number>).sort();
}

export interface Summary {
  count: number;
  p50: number;
  p99: number;
  max: number;
  mean: number;
}

export function summarize(values: ArrayLike<number>): Summary {
  const s = sorted(values);
  let sum = 0;
  for (const v of s) sum += v;
  return {
    count: s.length,
    p50: percentile(s, 50),
    p99: percentile(s, 99),
    max: s.length ? s[s.length - 1]! : Number.NaN,
    mean: s.length ? sum / s.length : Number.NaN,
  };
}

/** Rounds for display/JSON: 3 significant-ish decimals below 10, fewer above. */
export function round(v: number): number {
  if (!Number.isFinite(v)) return v;
  const a = Math.abs(v);
  const digits = a >= 1000 ? 0 : a >= 100 ? 1 : a >= 10 ? 2 : 3;
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

export { seededRandom };

/**
 * The p-th percentile (nearest rank, as `percentile`) of one bootstrap
 * resample of `sortedValues`: n draws with replacement. Drawing counts per
 * position of the sorted array and walking them up to the rank gives the
 * resample's percentile without sorting it.
 */
function resampledPercentile(sortedValues: Float64Array, p: number, random: () => number, counts: Uint32Array): number {
  const n = sortedValues.length;
  counts.fill(0);
  for (let i = 0; i < n; i++) counts[Math.floor(random() * n)]! += 1;
  const rank = Math.min(Math.max(Math.ceil((p / 100) * n), 1), n);
  let seen = 0;
  for (let i = 0; i < n; i++) {
    seen += counts[i]!;
    if (seen >= rank) return sortedValues[i]!;
  }
  return sortedValues[n - 1]!;
}

export interface IntervalOptions {
  /** How many resamples (default 2,000). */
  resamples?: number;
  /** Central share of the resampled ratios the interval holds (default 0.95). */
  confidence?: number;
  seed?: number;
}

/**
 * A percentile bootstrap interval for the ratio of two samples' p-th
 * percentiles, percentile(num) ÷ percentile(den), the samples taken
 * independently (a probe during a load, and the same probe on the idle
 * cluster). Each resample draws both samples anew; the interval holds the
 * central `confidence` share of the resampled ratios.
 *
 * Why: a p99 from a few hundred reads rests on its few slowest ones, so a
 * ratio of two such figures moves from run to run. The interval says how far
 * this run's samples alone let it move, so a ratio just past its goal can be
 * told from one clearly past it. It does not cover what changes between runs
 * (another tenant of the machine), which only repeated runs show.
 */
export function percentileRatioInterval(num: ArrayLike<number>, den: ArrayLike<number>, p: number, options: IntervalOptions = {}): [number, number] {
  const a = sorted(num);
  const b = sorted(den);
  if (a.length === 0 || b.length === 0) return [Number.NaN, Number.NaN];
  const resamples = options.resamples ?? 2000;
  const confidence = options.confidence ?? 0.95;
  const random = seededRandom(options.seed ?? 1);
  const countsA = new Uint32Array(a.length);
  const countsB = new Uint32Array(b.length);
  const ratios = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) {
    ratios[r] = resampledPercentile(a, p, random, countsA) / resampledPercentile(b, p, random, countsB);
  }
  ratios.sort();
  const tail = (1 - confidence) / 2;
  return [percentile(ratios, tail * 100), percentile(ratios, (1 - tail) * 100)];
}

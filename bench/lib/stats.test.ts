// The bootstrap interval the catalogue targets report beside their p99 ratios.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { percentile, percentileRatioInterval, seededRandom, sorted } from './stats.js';

/** n latencies: mostly near `base` ms, with a tail of slow ones. */
function latencies(n: number, base: number, seed: number): number[] {
  const random = seededRandom(seed);
  return Array.from({ length: n }, () => {
    const u = random();
    return u < 0.97 ? base * (0.8 + 0.4 * random()) : base * (2 + 8 * random());
  });
}

test('the interval holds the point ratio, and two samples of one distribution give an interval around 1', () => {
  const a = latencies(600, 3, 11);
  const b = latencies(600, 3, 12);
  const point = percentile(sorted(a), 99) / percentile(sorted(b), 99);
  const [lo, hi] = percentileRatioInterval(a, b, 99);
  assert.ok(lo <= point && point <= hi, `${lo} <= ${point} <= ${hi}`);
  assert.ok(lo < 1 && hi > 1, `[${lo}, ${hi}] should hold 1`);
});

test('a load that triples every latency gives an interval around 3 that excludes 2', () => {
  const idle = latencies(1500, 3, 21);
  const busy = latencies(1500, 9, 22);
  const [lo, hi] = percentileRatioInterval(busy, idle, 99);
  assert.ok(lo > 2 && lo < 3 && hi > 3 && hi < 4.5, `[${lo}, ${hi}]`);
});

test('more samples narrow the interval; the same samples and seed give the same interval', () => {
  const width = (n: number) => {
    const [lo, hi] = percentileRatioInterval(latencies(n, 3, 31), latencies(n, 3, 32), 99);
    return hi - lo;
  };
  assert.ok(width(4000) < width(300), `${width(4000)} < ${width(300)}`);
  const a = latencies(300, 3, 41);
  const b = latencies(300, 3, 42);
  assert.deepEqual(percentileRatioInterval(a, b, 99), percentileRatioInterval(a, b, 99));
  assert.notDeepEqual(percentileRatioInterval(a, b, 99, { seed: 1 }), percentileRatioInterval(a, b, 99, { seed: 2 }));
});

test('an empty sample gives no interval', () => {
  assert.ok(percentileRatioInterval([], [1, 2], 99).every(Number.isNaN));
});

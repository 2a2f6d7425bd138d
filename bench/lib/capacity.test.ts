// The open-loop capacity search, against a fake path whose capacity is known.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findCapacity, sustains, type OpenLoopOptions, type OpenLoopResult } from './capacity.js';

const BOUND_MS = 100;

/** What an open loop at `rate` would report on a path that keeps up to `capacity`/s. */
function outcome(rate: number, capacity: number): OpenLoopResult {
  const keeps = rate <= capacity;
  return {
    offered: rate,
    throughput: keeps ? rate : capacity,
    requests: rate * 4,
    errors: 0,
    shed: 0,
    seconds: 4,
    p50_ms: keeps ? 5 : 400,
    p99_ms: keeps ? 40 : 900,
    max_ms: keeps ? 60 : 1200,
    errorSamples: [],
  };
}

/**
 * A fake path: `capacity`/s, except that the first recorded probe at each rate
 * in `flaky` fails as if a neighbour had taken the machine. Warm-ups (the
 * shorter probes) are counted but never decide anything.
 */
function fakePath(capacity: number, flaky: number[] = []) {
  const recorded: number[] = [];
  let warmups = 0;
  const failedOnce = new Set<number>();
  const measure = async (o: OpenLoopOptions): Promise<OpenLoopResult> => {
    if (o.durationMs < 1000) {
      warmups += 1;
      return outcome(o.rate, capacity);
    }
    recorded.push(o.rate);
    if (flaky.includes(o.rate) && !failedOnce.has(o.rate)) {
      failedOnce.add(o.rate);
      return { ...outcome(o.rate, capacity), p99_ms: 250 };
    }
    return outcome(o.rate, capacity);
  };
  return { measure, recorded, warmups: () => warmups };
}

const options = (hint: number, more: Partial<Parameters<typeof findCapacity>[0]> = {}) => ({
  hint,
  slots: 256,
  p99BoundMs: BOUND_MS,
  probeMs: 4000,
  warmupMs: 500,
  ...more,
});

test('sustained means nothing shed or failed, answers keep up, p99 within the bound', () => {
  assert.equal(sustains(outcome(1000, 2000), BOUND_MS), true);
  assert.equal(sustains(outcome(3000, 2000), BOUND_MS), false);
  assert.equal(sustains({ ...outcome(1000, 2000), shed: 1 }, BOUND_MS), false);
  assert.equal(sustains({ ...outcome(1000, 2000), errors: 1 }, BOUND_MS), false);
  assert.equal(sustains({ ...outcome(1000, 2000), throughput: 940 }, BOUND_MS), false);
});

test('from a hint below capacity the search climbs, then bisects to within 4 % below it', async () => {
  const path = fakePath(3000);
  const { best, probes } = await findCapacity(options(2000), path.measure);
  assert.ok(best);
  assert.ok(best.rate <= 3000 && best.rate >= 3000 * 0.96, `found ${best.rate}`);
  assert.equal(probes[0]!.rate, 2000);
  assert.ok(probes.every((p) => p.sustained === p.rate <= 3000), 'each rate judged by the path');
  assert.equal(path.warmups(), path.recorded.length, 'every probe has its own warm-up');
});

test('from a hint above capacity the search comes down, then bisects', async () => {
  const path = fakePath(1500);
  const { best, probes } = await findCapacity(options(2100), path.measure);
  assert.ok(best);
  assert.ok(best.rate <= 1500 && best.rate >= 1500 * 0.96, `found ${best.rate}`);
  assert.equal(probes[0]!.sustained, false);
  assert.equal(probes[0]!.tries, 2, 'a failed rate is tried again before it counts');
});

test('one noisy failure at the first rate does not cap the search', async () => {
  // The committed run's miss: the hint failed once and the search never came back above it.
  const path = fakePath(2500, [2096]);
  const { best, probes } = await findCapacity(options(2096), path.measure);
  assert.equal(probes[0]!.sustained, true);
  assert.equal(probes[0]!.tries, 2);
  assert.ok(best && best.rate > 2096, `found ${best?.rate}`);
});

test('without retries the same noise stops the search below the failed rate', async () => {
  const path = fakePath(2500, [2096]);
  const { best } = await findCapacity(options(2096, { retries: 0 }), path.measure);
  assert.ok(best && best.rate < 2096, `found ${best?.rate}`);
});

test('a path that sustains nothing has no best rate, and the search ends', async () => {
  const path = fakePath(0);
  const { best, probes } = await findCapacity(options(1000), path.measure);
  assert.equal(best, undefined);
  assert.equal(probes.length, 9, 'the hint and eight rates below it');
  assert.ok(probes.every((p) => !p.sustained && p.tries === 2));
});

// Alternating rounds: the order of the sides, and that the rows pool every round.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LoadResult } from './load.js';
import { ALTERNATING, alternatingRounds, pooled, sidesOf } from './rounds.js';
import type { Context, MeasureSpec, Row } from './types.js';

test('the sides alternate A B, B A, A B, …, so a steady drift moves both alike', () => {
  assert.deepEqual([0, 1, 2, 3].map(sidesOf).flat().join(''), 'abbaabba');
});

test('pooled results are all requests over all time, errors left out of the rate', () => {
  const r = (requests: number, errors: number, seconds: number): LoadResult =>
    ({ requests, errors, seconds, throughput: (requests - errors) / seconds, p50_ms: 1, p99_ms: 2, max_ms: 3, errorSamples: errors ? ['boom'] : [] });
  const p = pooled([r(100, 0, 1), r(300, 10, 2)]);
  assert.equal(p.requests, 400);
  assert.equal(p.errors, 10);
  assert.equal(p.seconds, 3);
  assert.equal(p.throughput, 130);
  assert.deepEqual(p.errorSamples, ['boom']);
  assert.ok(Number.isNaN(p.p99_ms), 'latency is not pooled');
});

test('two rows, the baseline first, each from its own side\'s rounds, in the order A B B A …', async () => {
  const order: string[] = [];
  let side = '';
  const opFor = (name: string, ms: number) => async () => {
    if (side !== name) order.push((side = name));
    await new Promise((r) => setTimeout(r, ms));
  };
  const ctx = {
    row: (spec: MeasureSpec, result: LoadResult): Row => ({ variant: spec.variant, baseline: spec.baseline, notes: spec.notes, throughput: result.throughput } as unknown as Row),
    log: () => {},
  } as unknown as Context;
  const [a, b] = await alternatingRounds(ctx, { concurrency: 2, rounds: 4, roundMs: 60, warmupMs: 0 },
    { op: opFor('a', 1), variant: 'fast', notes: 'A' },
    { op: opFor('b', 4), variant: 'slow', notes: 'B' });
  assert.deepEqual(order, ['a', 'b', 'a', 'b', 'a']); // a | b b | a a | b b | a: one switch per boundary
  assert.equal(a.variant, `fast, ${ALTERNATING}`);
  assert.equal(a.baseline, true);
  assert.equal(b.variant, `slow, ${ALTERNATING}`);
  assert.ok(b.throughput < a.throughput, `the slow side is slower: ${b.throughput} against ${a.throughput}`);
  assert.match(b.notes!, /per pair of rounds: [\d.]+, [\d.]+, [\d.]+, [\d.]+$/);
});

// The run-queue delay the benchmarks report: how long a process's threads
// waited for a core, on average, each time they became runnable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runQueueDelayMs, schedTimes } from './procs.js';

const ms = 1e6;

test('the delay is summed over the threads present at the end; a thread that began meanwhile counts from zero', () => {
  const before = new Map([[1, { run: 100 * ms, wait: 10 * ms, slices: 100 }], [2, { run: 50 * ms, wait: 0, slices: 10 }]]);
  const after = new Map([
    [1, { run: 130 * ms, wait: 20 * ms, slices: 120 }], // waited 10 ms over 20 turns on a core
    [2, { run: 60 * ms, wait: 10 * ms, slices: 30 }], // 10 ms over 20
    [3, { run: 20 * ms, wait: 4 * ms, slices: 10 }], // new: 4 ms over 10
  ]);
  assert.equal(runQueueDelayMs(before, after), 24 / 50);
});

test('a thread that ended drops out, and fewer than 20 turns on a core say nothing', () => {
  const before = new Map([[1, { run: 0, wait: 0, slices: 0 }], [2, { run: 0, wait: 0, slices: 0 }]]);
  assert.equal(runQueueDelayMs(before, new Map([[1, { run: 3 * ms, wait: 5 * ms, slices: 25 }]])), 0.2);
  assert.equal(runQueueDelayMs(before, new Map([[1, { run: 3 * ms, wait: 5 * ms, slices: 19 }]])), undefined);
});

test('this process has been put on a core, its main thread among its threads', () => {
  const all = schedTimes(process.pid);
  const main = all.get(process.pid);
  assert.ok(main, `main thread among ${[...all.keys()]}`);
  assert.ok(main.run > 0 && main.slices > 0);
  assert.equal(schedTimes(2 ** 30).size, 0); // no such process
});

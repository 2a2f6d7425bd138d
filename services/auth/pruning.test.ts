import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PruneResult } from './domain/index.js';
import { startPruning, type Schedule } from './pruning.js';

/** A stand-in for setTimeout: the test runs what is due, and sees each delay asked for. */
function manualTimers() {
  const queue: Array<{ run: () => void; ms: number; cancelled: boolean; fired: boolean }> = [];
  const pending = () => queue.filter((e) => !e.cancelled && !e.fired);
  const later: Schedule = (run, ms) => {
    const entry = { run, ms, cancelled: false, fired: false };
    queue.push(entry);
    return { cancel: () => void (entry.cancelled = true) };
  };
  return {
    later,
    /** The delays asked for so far, in order. */
    delays: () => queue.map((e) => e.ms),
    /** Runs the one pending timer, and lets the run it starts finish. */
    async fire(): Promise<void> {
      const due = pending();
      assert.equal(due.length, 1, 'exactly one run is pending');
      due[0]!.fired = true;
      due[0]!.run();
      await new Promise((resolve) => setImmediate(resolve));
    },
    pending: () => pending().length,
  };
}

const schedule = { everyMs: 60_000, drainPauseMs: 250, batch: 3 };

test('a run that deletes a whole batch of either kind is followed after the drain pause, one that deletes less after the interval', async () => {
  const answers: PruneResult[] = [
    { authLogs: 3, refreshTokens: 0 },
    { authLogs: 1, refreshTokens: 3 },
    { authLogs: 0, refreshTokens: 2 },
    { authLogs: 0, refreshTokens: 0 },
  ];
  const asked: number[] = [];
  const seen: PruneResult[] = [];
  const timers = manualTimers();
  startPruning(
    async (max) => {
      asked.push(max);
      return answers.shift()!;
    },
    schedule,
    { pruned: (r) => seen.push(r), failed: (err) => assert.fail(String(err)) },
    timers.later,
  );
  assert.deepEqual(timers.delays(), [60_000], 'the first run waits an interval');
  for (let i = 0; i < 4; i++) await timers.fire();
  assert.deepEqual(asked, [3, 3, 3, 3], 'each run is told the batch');
  assert.equal(seen.length, 4);
  assert.deepEqual(timers.delays(), [60_000, 250, 250, 60_000, 60_000]);
});

test('a failed run is reported and the next follows after the interval; stopping cancels the pending run', async () => {
  const failures: unknown[] = [];
  const timers = manualTimers();
  let calls = 0;
  const stop = startPruning(
    async () => {
      calls += 1;
      throw new Error('database is locked');
    },
    schedule,
    { pruned: () => assert.fail('nothing was pruned'), failed: (err) => failures.push(err) },
    timers.later,
  );
  await timers.fire();
  assert.equal(failures.length, 1);
  assert.deepEqual(timers.delays(), [60_000, 60_000]);
  stop();
  assert.equal(timers.pending(), 0, 'no run is left pending');
  assert.equal(calls, 1);
});

test('stopping while a run is under way lets it finish and schedules nothing after it', async () => {
  const timers = manualTimers();
  let finish: (r: PruneResult) => void = () => {};
  const stop = startPruning(() => new Promise<PruneResult>((resolve) => (finish = resolve)), schedule, { pruned: () => {}, failed: () => {} }, timers.later);
  await timers.fire();
  stop();
  finish({ authLogs: 3, refreshTokens: 3 });
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(timers.pending(), 0);
  assert.deepEqual(timers.delays(), [60_000]);
});

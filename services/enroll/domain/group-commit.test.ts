/**
 * Group commit gives the same results as one transaction per request
 * (issue 4: "Results must be identical to one transaction per request").
 *
 * The random walk of invariants.test.ts, taken in rounds: each round draws one
 * to eight steps from the same state and starts them all at once, so their
 * writes reach a batch writer (`createWriter` in `batch` mode, as the primary's
 * writer thread runs it, with a `maxBatch` drawn per round) together and share
 * its commits, each in its own savepoint. Every write is recorded in the order
 * the writer took it, with what it answered.
 *
 * After each round, the same writes are replayed in that order on a copy of
 * the database as it was before the round, each in its own BEGIN IMMEDIATE …
 * COMMIT (what `single` mode does). Every answer must be the same (the same
 * value, or a refusal with the same status and text), and so must every row of
 * every table. The enrollment rules must hold after each round (`violations`),
 * and a refusal must be an AppError of a client status.
 *
 * Some steps carry an idempotency key (lib/idempotency.ts), as a client that
 * may send them again would: their write runs inside the key's operation. Now
 * and then a round sends again a keyed step of an earlier round that
 * succeeded, with its key: it must answer what it answered then, and the
 * replay above holds it, like every write, to one transaction each.
 *
 * A seed must also meet what group commit is about: commits shared by several
 * writes, a refusal sharing its commit with writes that succeed, a round
 * split over several commits by its `maxBatch`, and keyed steps sent again.
 *
 * To replay seeds, printing every round: GROUP_COMMIT_SEEDS=3,7 node --test
 * dist/services/enroll/domain/group-commit.test.js (GROUP_COMMIT_ROUNDS sets
 * the number of rounds per seed).
 */
import assert from 'node:assert/strict';
import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { writeOnce, type IdempotentRequest } from '../../../lib/idempotency.js';
import type { WriteFn, WriteOp } from '../../../lib/writer.js';
import { countCoverage, recordingBatchWrites, refusal, replayDifferences, type Coverage } from '../../../test/support/group-commit.js';
import { setup } from './fixture.js';
import { readState, refusalViolations, violations } from './walk/state.js';
import { buildWorld, STEP_KINDS, type Step } from './walk/steps.js';
import { Dice } from './walk/world.js';

const SEEDS = process.env.GROUP_COMMIT_SEEDS?.split(',').map(Number) ?? [1, 2, 3, 4, 5];
const ROUNDS = Number(process.env.GROUP_COMMIT_ROUNDS ?? 80);
const TRACE = process.env.GROUP_COMMIT_SEEDS !== undefined;
const MAX_STEPS_PER_ROUND = 8;

/** The key the step being run carries, if any. */
const carried = new AsyncLocalStorage<IdempotentRequest>();

/** The request's write with the carried key, as the call wrapper makes it (`CallContext.requestWrite`). */
const keyedWrites =
  (write: WriteFn): WriteFn =>
  async <A, R>(op: WriteOp<A, R>, args: A): Promise<R> => {
    const request = carried.getStore();
    if (!request) return write(op, args);
    return (await writeOnce(write, 1, request, op, args, 0)).value;
  };

/** A step that carried a key and succeeded, with what it answered. */
interface Sent {
  step: Step;
  request: IdempotentRequest;
  answer: unknown;
}

async function walkInBatches(seed: number): Promise<void> {
  let recorder: ReturnType<typeof recordingBatchWrites> | undefined;
  const f = await setup({ write: (db) => (recorder = recordingBatchWrites(db)).write, requestWrite: keyedWrites });
  const writes = recorder!;
  try {
    const dice = new Dice(seed);
    const instructors = await buildWorld(f, dice);
    const coverage: Coverage = { shared: 0, mixed: 0, split: 0 };
    const sent: Sent[] = [];
    let sentAgain = 0;
    let state = readState(f.db);
    for (let round = 1; round <= ROUNDS; round++) {
      const count = dice.int(1, MAX_STEPS_PER_ROUND);
      const steps = Array.from({ length: count }, () => dice.weighted(STEP_KINDS)({ f, dice, state, instructors }));
      // A third of the steps carry a key; now and then an earlier keyed step is sent again.
      const keys: Array<IdempotentRequest | undefined> = steps.map((s, i) =>
        dice.chance(1 / 3) ? { key: `seed${seed}-round${round}-${i}`, digest: createHash('sha256').update(s.label).digest('hex') } : undefined,
      );
      const again = sent.length > 0 && dice.chance(0.3) ? dice.pick(sent) : undefined;
      if (again) {
        steps.push({ ...again.step, label: `${again.step.label} (sent again with ${again.request.key})` });
        keys.push(again.request);
      }
      const maxBatch = dice.int(1, steps.length + 1);
      writes.next(maxBatch);
      const before = f.db.serialize();
      const settled = await Promise.allSettled(steps.map((s, i) => (keys[i] ? carried.run(keys[i]!, () => s.run()) : s.run())));
      const taken = writes.taken();
      if (TRACE) {
        console.log(`seed ${seed} round ${round} (at most ${maxBatch} per commit):`);
        steps.forEach((s, i) => {
          const r = settled[i]!;
          console.log(`  ${s.label}${r.status === 'rejected' ? ` -> refused: ${refusal(r.reason)}` : ''}`);
        });
      }
      const found: string[] = [];
      settled.forEach((r, i) => {
        if (r.status === 'rejected') found.push(...refusalViolations(r.reason, false).map((v) => `${steps[i]!.label}: ${v}`));
      });
      const unanswered = taken.filter((t) => t.answer === undefined).length;
      if (unanswered > 0) found.push(`${unanswered} writes were never answered`);
      if (again) {
        const r = settled[steps.length - 1]!;
        sentAgain += 1;
        if (r.status === 'rejected') found.push(`sent again, ${again.step.label} was refused: ${refusal(r.reason)}`);
        else if (JSON.stringify(r.value) !== JSON.stringify(again.answer)) {
          found.push(`sent again, ${again.step.label} answered ${JSON.stringify(r.value)}, not ${JSON.stringify(again.answer)} as the first time`);
        }
      }
      settled.forEach((r, i) => {
        if (keys[i] && r.status === 'fulfilled' && !(again && i === steps.length - 1)) sent.push({ step: steps[i]!, request: keys[i]!, answer: r.value });
      });
      const after = readState(f.db);
      found.push(...violations(after), ...replayDifferences(before, taken, f.db));
      if (found.length > 0) {
        assert.fail(`seed ${seed}, round ${round} (${steps.map((s) => s.label).join('; ')}; at most ${maxBatch} per commit):\n  ${found.join('\n  ')}`);
      }
      countCoverage(taken, coverage);
      state = after;
    }
    if (TRACE) console.log(`seed ${seed}: ${JSON.stringify({ ...coverage, sentAgain })}`);
    assert.ok(coverage.shared > 0 && coverage.mixed > 0 && coverage.split > 0, `seed ${seed}: the batches met too little: ${JSON.stringify(coverage)}`);
    assert.ok(sentAgain > 0, `seed ${seed}: no keyed step was sent again`);
  } finally {
    f.close();
  }
}

for (const seed of SEEDS) {
  test(`seed ${seed}: ${ROUNDS} rounds of concurrent steps under group commit answer and store what one transaction each would`, () =>
    walkInBatches(seed));
}

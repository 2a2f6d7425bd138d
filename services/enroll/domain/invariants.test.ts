/**
 * A seeded random walk through the enrollment rules. Each seed builds a small
 * world (four courses of 3, 6, 9 and 10 credits, two or three sections each
 * of one to three seats and a line of one to three places, meeting times that
 * overlap, classrooms and instructors shared) and takes a few hundred random
 * steps: students 10..29 (10..15 most) enroll, wait, swap, drop and leave
 * lines; the registrar does the same for them (waiving prerequisites at
 * times); instructors and the registrar grade and drop; the registrar resizes,
 * freezes, moves, creates and deletes sections, changes prerequisites,
 * credits and the registration period, and places registration holds on
 * students and releases them (holds are short; a student or an instructor
 * who tries either is refused).
 *
 * After every step the database itself is held to the README's
 * "Enrollment rules" (see `violations`): seats and lines within capacity and
 * their counters exact, positions 1..n in order of joining, one current seat
 * per course, no clashing seats, loads and lines per student within the
 * limits, no free seat in an open section while someone in its line could
 * take it (a registration hold keeps a student from it), and the newest
 * event of each place agreeing with it. Each step is held to what it may not
 * do (see `stepViolations`): among others, a student on hold takes no seat
 * and no place in line themself, and no promotion moves them into a seat
 * while the hold stands (the registrar may still enroll them). A refused
 * step must be an AppError of a client status and change nothing.
 *
 * After every step the read side is held to the tables too (see
 * `readViolations`): what students, instructors and the registrar read of
 * enrollments, waitlists, sections, the catalogue, transcripts, enrollment
 * events and holds, followed page by page, must be what the rows say at once
 * after the write, and other readers are refused. Students also take graded
 * courses again (`retake`), so transcripts hold repeated and incomplete
 * attempts.
 *
 * The world and the dice are in walk/world.ts, the steps in walk/steps.ts,
 * the write side's checks in walk/state.ts and the read side's in
 * walk/reads.ts.
 *
 * A failure names its seed and step. To replay seeds, printing every step:
 *   INVARIANT_SEEDS=3,7 node --test dist/services/enroll/domain/invariants.test.js
 * (INVARIANT_STEPS changes the number of steps per seed; INVARIANT_SWEEP_EVERY
 * how often every student and section are read in every way, by default
 * only before the first step and after the last.)
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setup } from './fixture.js';
import { READ_SALT, readViolations, touchedBy, type Reader } from './walk/reads.js';
import { readState, refusalViolations, stepViolations, violations } from './walk/state.js';
import { buildWorld, STEP_KINDS } from './walk/steps.js';
import { Dice } from './walk/world.js';

const SEEDS = process.env.INVARIANT_SEEDS?.split(',').map(Number) ?? [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
const STEPS = Number(process.env.INVARIANT_STEPS ?? 400);
const TRACE = process.env.INVARIANT_SEEDS !== undefined;
/** Every student and section are read in every way after this many steps, and after the last. */
const SWEEP_EVERY = Number(process.env.INVARIANT_SWEEP_EVERY ?? STEPS);

/** Runs the seed's walk; fails at the first step that breaks a rule, naming seed and step. */
async function walk(seed: number): Promise<void> {
  const f = await setup();
  try {
    const dice = new Dice(seed);
    // The read checks' own dice: what they read never changes what the walk writes.
    const reader: Reader = {
      rd: new Dice((seed ^ READ_SALT) >>> 0),
      events: [],
      coverage: { repeated: 0, incompleteRetakes: 0, replacing: 0, pagedListings: 0, holds: 0 },
    };
    const instructors = await buildWorld(f, dice);
    let state = readState(f.db);
    assert.deepEqual(violations(state), [], `seed ${seed}: the world breaks a rule before the first step`);
    const first = await readViolations(f, reader, instructors, { users: [], sections: [] }, true);
    if (first.length > 0) assert.fail(`seed ${seed}, before the first step:\n  read: ${first.join('\n  read: ')}`);
    for (let i = 1; i <= STEPS; i++) {
      const step = dice.weighted(STEP_KINDS)({ f, dice, state, instructors });
      const snapshot = f.snapshot();
      const error = await step.run().then(
        () => undefined,
        (err: unknown) => err ?? new Error('rejected with no reason'),
      );
      const after = readState(f.db);
      if (TRACE) console.log(`seed ${seed} step ${i}: ${step.label}${error ? ` -> refused: ${error instanceof Error ? error.message : String(error)}` : ''}`);
      const found = [
        ...(error ? refusalViolations(error, f.snapshot() !== snapshot) : []),
        ...stepViolations(state, after, step, error !== undefined),
        ...violations(after),
      ];
      const sweep = i % SWEEP_EVERY === 0 || i === STEPS;
      for (const disagreement of await readViolations(f, reader, instructors, touchedBy(state, after), sweep)) {
        found.push(`read: ${disagreement}`);
      }
      if (found.length > 0) assert.fail(`seed ${seed}, step ${i} (${step.label}):\n  ${found.join('\n  ')}`);
      state = after;
    }
    // The reads met what they are about: retakes on transcripts, waits to change sections, listings of several pages, holds.
    const { repeated, replacing, pagedListings, holds } = reader.coverage;
    const met = repeated > 0 && replacing > 0 && pagedListings > 0 && holds > 0;
    assert.ok(met, `seed ${seed}: the reads met too little: ${JSON.stringify(reader.coverage)}`);
    // The walk went where the rules are: every kind of change happened, and holds were placed and released.
    const actions = new Set(f.db.prepare<[], { action: string }>('SELECT DISTINCT action FROM enrollment_events').all().map((r) => r.action));
    for (const action of ['enrolled', 'waitlisted', 'promoted', 'dropped', 'left_waitlist', 'graded', 'grade_cleared']) {
      assert.ok(actions.has(action), `seed ${seed}: no '${action}' event in ${STEPS} steps`);
    }
    const { placed, released } = f.db
      .prepare<[], { placed: number; released: number }>('SELECT count(*) AS placed, count(released_at) AS released FROM registration_holds')
      .get()!;
    assert.ok(placed > 0 && released > 0, `seed ${seed}: ${placed} holds placed and ${released} released in ${STEPS} steps`);
  } finally {
    f.close();
  }
}

for (const seed of SEEDS) {
  test(`seed ${seed}: ${STEPS} random steps keep every enrollment rule`, () => walk(seed));
}

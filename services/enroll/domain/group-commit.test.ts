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
 * A seed must also meet what group commit is about: commits shared by several
 * writes, a refusal sharing its commit with writes that succeed, and a round
 * split over several commits by its `maxBatch`.
 *
 * To replay seeds, printing every round: GROUP_COMMIT_SEEDS=3,7 node --test
 * dist/services/enroll/domain/group-commit.test.js (GROUP_COMMIT_ROUNDS sets
 * the number of rounds per seed).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { AppError, Status } from '../../../lib/errors.js';
import { fromWire, toWire } from '../../../lib/op-thread.js';
import type { WritableDb } from '../../../lib/sqlite.js';
import { createWriter, type WriteFn, type WriteOp, type Writer } from '../../../lib/writer.js';
import { setup } from './fixture.js';
import { readState, refusalViolations, violations } from './walk/state.js';
import { buildWorld, STEP_KINDS } from './walk/steps.js';
import { Dice } from './walk/world.js';

const SEEDS = process.env.GROUP_COMMIT_SEEDS?.split(',').map(Number) ?? [1, 2, 3, 4, 5];
const ROUNDS = Number(process.env.GROUP_COMMIT_ROUNDS ?? 80);
const TRACE = process.env.GROUP_COMMIT_SEEDS !== undefined;
const MAX_STEPS_PER_ROUND = 8;

/** What a write answered: its value, or its refusal reduced to what a caller sees. */
type Answer = { ok: true; value: unknown } | { ok: false; error: string };

/** A write as the batch writer took it, and what it answered; `commit` numbers the shared COMMIT it was in. */
interface Taken {
  op: WriteOp<unknown, unknown>;
  args: unknown;
  answer?: Answer;
  commit?: number;
}

function refusal(err: unknown): string {
  if (err instanceof AppError) return `${Status[err.code]} ${err.field ?? ''}: ${err.message}`;
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

/** Times written by SQLite's clock ('now') differ between the batch and its replay, which run at different seconds. */
const withoutTimes = (json: string): string => json.replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/g, '<time>');

/** Every row of every table (AUTOINCREMENT counters too), in a stable order. */
function everyRow(db: Database.Database): string {
  const tables = db
    .prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
    .all()
    .map((t) => t.name);
  const dump = tables.map((t) => [t, db.prepare(`SELECT * FROM "${t}"`).all().map((r) => JSON.stringify(r)).sort()]);
  return withoutTimes(JSON.stringify(dump));
}

/**
 * A write function over a batch writer that records every write in the order
 * the writer takes it. The writer is replaced each round (`next`), so each
 * round draws its own maxBatch; commits are numbered through `position`.
 */
function recordingBatchWrites(db: WritableDb) {
  let taken: Taken[] = [];
  let commits = 0;
  let writer: Writer = createWriter(db, { mode: 'batch', position: () => BigInt(++commits) });
  const write: WriteFn = <A, R>(op: WriteOp<A, R>, args: A): Promise<R> => {
    const entry: Taken = { op: op as WriteOp<unknown, unknown>, args: structuredClone(args) };
    taken.push(entry);
    // The writer thread's boundary: arguments, results and errors are copied across.
    return writer.run(op, structuredClone(args)).then(
      (r) => {
        entry.answer = { ok: true, value: structuredClone(r.value) };
        entry.commit = Number(r.txid);
        return structuredClone(r.value);
      },
      (err: unknown) => {
        entry.answer = { ok: false, error: refusal(err) };
        throw fromWire(structuredClone(toWire(err)));
      },
    );
  };
  return {
    write,
    /** Starts a round: a new writer taking at most `maxBatch` writes per commit; returns the writes of the last round. */
    next(maxBatch: number): Taken[] {
      const last = taken;
      taken = [];
      writer = createWriter(db, { mode: 'batch', maxBatch, position: () => BigInt(++commits) });
      return last;
    },
    taken: () => taken,
  };
}

/** Runs `taken` one transaction each, in order, on a copy of the database `before`; returns what differs. */
function replayDifferences(before: Buffer, taken: Taken[], after: Database.Database): string[] {
  // The copy is in memory, where WAL cannot be: its header is marked for a rollback journal (bytes 18 and 19).
  const image = Buffer.from(before);
  image[18] = 1;
  image[19] = 1;
  const replay = new Database(image);
  try {
    replay.pragma('foreign_keys = ON');
    const found: string[] = [];
    taken.forEach((t, i) => {
      let answer: Answer;
      try {
        const value = replay.transaction(() => t.op.run(replay as WritableDb, structuredClone(t.args))).immediate();
        answer = { ok: true, value: structuredClone(value) };
      } catch (err) {
        answer = { ok: false, error: refusal(err) };
      }
      const batch = withoutTimes(JSON.stringify(t.answer));
      const alone = withoutTimes(JSON.stringify(answer));
      if (batch !== alone) found.push(`write ${i + 1} (${t.op.name} ${JSON.stringify(t.args)}): in the batch ${batch}, alone ${alone}`);
    });
    if (everyRow(after) !== everyRow(replay)) found.push('the tables differ from the writes replayed one transaction each');
    return found;
  } finally {
    replay.close();
  }
}

interface Coverage {
  /** Commits holding more than one write. */
  shared: number;
  /** Commits holding a refusal beside a write that succeeded. */
  mixed: number;
  /** Rounds whose writes were split over more than one commit. */
  split: number;
}

function countCoverage(taken: Taken[], coverage: Coverage): void {
  const byCommit = new Map<number, Taken[]>();
  for (const t of taken) {
    // A refusal has no commit of its own: it shared the one its batch made, which the
    // writes that succeeded name. Refusals in a batch where nothing succeeded count nowhere.
    if (t.commit !== undefined) byCommit.set(t.commit, [...(byCommit.get(t.commit) ?? []), t]);
  }
  for (const group of byCommit.values()) if (group.length > 1) coverage.shared++;
  if (byCommit.size > 1) coverage.split++;
  // Writes are answered in commit order, so a refusal between two writes of one commit shared it.
  let last: number | undefined;
  let refusedSince = false;
  for (const t of taken) {
    if (t.commit === undefined) {
      refusedSince = last !== undefined;
      continue;
    }
    if (refusedSince && t.commit === last) coverage.mixed++;
    refusedSince = false;
    last = t.commit;
  }
}

async function walkInBatches(seed: number): Promise<void> {
  let recorder: ReturnType<typeof recordingBatchWrites> | undefined;
  const f = await setup({ write: (db) => (recorder = recordingBatchWrites(db)).write });
  const writes = recorder!;
  try {
    const dice = new Dice(seed);
    const instructors = await buildWorld(f, dice);
    const coverage: Coverage = { shared: 0, mixed: 0, split: 0 };
    let state = readState(f.db);
    for (let round = 1; round <= ROUNDS; round++) {
      const count = dice.int(1, MAX_STEPS_PER_ROUND);
      const steps = Array.from({ length: count }, () => dice.weighted(STEP_KINDS)({ f, dice, state, instructors }));
      const maxBatch = dice.int(1, count + 1);
      writes.next(maxBatch);
      const before = f.db.serialize();
      const settled = await Promise.allSettled(steps.map((s) => s.run()));
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
      const after = readState(f.db);
      found.push(...violations(after), ...replayDifferences(before, taken, f.db));
      if (found.length > 0) {
        assert.fail(`seed ${seed}, round ${round} (${steps.map((s) => s.label).join('; ')}; at most ${maxBatch} per commit):\n  ${found.join('\n  ')}`);
      }
      countCoverage(taken, coverage);
      state = after;
    }
    if (TRACE) console.log(`seed ${seed}: ${JSON.stringify(coverage)}`);
    assert.ok(coverage.shared > 0 && coverage.mixed > 0 && coverage.split > 0, `seed ${seed}: the batches met too little: ${JSON.stringify(coverage)}`);
  } finally {
    f.close();
  }
}

for (const seed of SEEDS) {
  test(`seed ${seed}: ${ROUNDS} rounds of concurrent steps under group commit answer and store what one transaction each would`, () =>
    walkInBatches(seed));
}

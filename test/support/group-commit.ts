/**
 * Holding group commit to one transaction per request (issue 4: "Results must
 * be identical to one transaction per request"), for the services' random
 * walks taken in rounds of concurrent steps (`group-commit.test.ts` beside
 * each service's domain).
 *
 * `recordingBatchWrites` is a write function over the batch writer the
 * primary runs (`createWriter` in `batch` mode: one transaction, a savepoint
 * per write, answers after the shared COMMIT), with the writer thread's
 * boundary around it, that records every write in the order the writer took
 * it and what it answered. `replayDifferences` runs the same writes, in that
 * order, each in its own BEGIN IMMEDIATE … COMMIT on a copy of the database as
 * it was before, and says where an answer or a row differs.
 */
import Database from 'better-sqlite3';
import { AppError, Status } from '../../lib/errors.js';
import { fromWire, toWire } from '../../lib/op-thread.js';
import type { WritableDb } from '../../lib/sqlite.js';
import { createWriter, type WriteFn, type WriteOp, type Writer } from '../../lib/writer.js';

/** What a write answered: its value, or its refusal reduced to what a caller sees. */
export type Answer = { ok: true; value: unknown } | { ok: false; error: string };

/** A write as the batch writer took it, and what it answered; `commit` numbers the shared COMMIT it was in. */
export interface Taken {
  op: WriteOp<unknown, unknown>;
  args: unknown;
  answer?: Answer;
  commit?: number;
}

export function refusal(err: unknown): string {
  if (err instanceof AppError) return `${Status[err.code]} ${err.field ?? ''}: ${err.message}`;
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

/** Times written by SQLite's clock ('now', CURRENT_TIMESTAMP) differ between the batch and its replay, which run at different seconds. */
const withoutTimes = (json: string): string => json.replace(/\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\dZ?/g, '<time>');

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
export function recordingBatchWrites(db: WritableDb) {
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
export function replayDifferences(before: Buffer, taken: Taken[], after: Database.Database): string[] {
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

export interface Coverage {
  /** Commits holding more than one write. */
  shared: number;
  /** Commits holding a refusal beside a write that succeeded. */
  mixed: number;
  /** Rounds whose writes were split over more than one commit. */
  split: number;
}

export function countCoverage(taken: Taken[], coverage: Coverage): void {
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

/**
 * Read and write operations over a one-table database, and a check both
 * writers must pass, for the writer and reader unit tests (lib/writer.test.ts,
 * lib/writer-thread.test.ts, lib/reader-thread.test.ts). A module of its own,
 * so a writer or reader thread can import it to run them by name.
 */
import assert from 'node:assert/strict';
import { AppError, Status, failedPrecondition, notFound } from '../../lib/errors.js';
import { defineRead } from '../../lib/reader.js';
import { defineWrite, type Writer } from '../../lib/writer.js';

export const SEAT_MIGRATIONS = ['CREATE TABLE seats (id INTEGER PRIMARY KEY, taken_by TEXT UNIQUE)'];

/** Takes one of two seats; a third taker is refused. Returns the seat's id. */
export const takeSeat = defineWrite('test.takeSeat', (db, who: string) => {
  const taken = db.prepare('SELECT count(*) AS c FROM seats').get() as { c: number };
  if (taken.c >= 2) throw failedPrecondition('full');
  return Number(db.prepare('INSERT INTO seats (taken_by) VALUES (?)').run(who).lastInsertRowid);
});

/** Inserts a row, then throws: none of it may stay. */
export const changeMind = defineWrite('test.changeMind', (db, _: null) => {
  db.prepare('INSERT INTO seats (taken_by) VALUES (?)').run('half-done');
  throw failedPrecondition('changed my mind');
});

/** Inserts a row (no limit); a taken name fails with SQLite's own constraint error. */
export const insertSeat = defineWrite('test.insertSeat', (db, who: string) =>
  Number(db.prepare('INSERT INTO seats (taken_by) VALUES (?)').run(who).lastInsertRowid),
);

/** Returns what cannot cross a thread boundary. */
export const returnFunction = defineWrite('test.returnFunction', (_db, _: null) => () => 1);

/** Ends the thread it runs on (a writer thread that dies mid-batch). */
export const crash = defineWrite('test.crash', (_db, code: number) => process.exit(code));

/**
 * Runs two seat takers, one operation that changes its mind and a third taker
 * at once, and checks that only the failing ones failed (the full section
 * with its AppError), and that only the two seats were stored.
 */
export async function checkOnlyFailuresRollBack(writer: Writer, seats: () => string[]): Promise<void> {
  const results = await Promise.allSettled([
    writer.run(takeSeat, 'a'),
    writer.run(changeMind, null),
    writer.run(takeSeat, 'b'),
    writer.run(takeSeat, 'c'),
  ]);
  assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled', 'rejected']);
  assert.equal((results[0] as PromiseFulfilledResult<{ value: number }>).value.value, 1);
  const full = (results[3] as PromiseRejectedResult).reason;
  assert.ok(full instanceof AppError);
  assert.equal(full.code, Status.FAILED_PRECONDITION);
  assert.equal(full.message, 'full');
  assert.deepEqual(seats(), ['a', 'b']);
}

/** Every seat's taker, in id order. */
export const listSeats = defineRead('test.listSeats', (db, _: null) =>
  (db.prepare('SELECT taken_by FROM seats ORDER BY id').all() as Array<{ taken_by: string }>).map((r) => r.taken_by),
);

/** The seat's taker; NOT_FOUND when there is no such seat. */
export const seatTaker = defineRead('test.seatTaker', (db, id: number) => {
  const row = db.prepare('SELECT taken_by FROM seats WHERE id = ?').get(id) as { taken_by: string } | undefined;
  if (!row) throw notFound(`seat ${id}`);
  return row.taken_by;
});

/** Whether the read runs inside a read transaction. */
export const inReadTransaction = defineRead('test.inReadTransaction', (db, _: null) => db.inTransaction);

/** Reads a table that does not exist: SQLite's own error. */
export const readMissingTable = defineRead('test.readMissingTable', (db, _: null) => db.prepare('SELECT * FROM nowhere').all());

/** Returns what cannot cross a thread boundary. */
export const readFunction = defineRead('test.readFunction', (_db, _: null) => () => 1);

/** Ends the thread it runs on (a reader thread that dies). */
export const readCrash = defineRead('test.readCrash', (_db, code: number) => process.exit(code));

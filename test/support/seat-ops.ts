/**
 * Write operations over a one-table database, for the writer unit tests
 * (lib/writer.test.ts, lib/writer-thread.test.ts). A module of its own, so a
 * writer thread can import it to run them by name.
 */
import { failedPrecondition } from '../../lib/errors.js';
import { defineWrite } from '../../lib/writer.js';

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

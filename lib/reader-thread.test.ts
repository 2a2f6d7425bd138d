import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { pino } from 'pino';
import {
  inReadTransaction,
  insertSeat,
  listSeats,
  readCrash,
  readFunction,
  readMissingTable,
  SEAT_MIGRATIONS,
  seatTaker,
} from '../test/support/seat-ops.js';
import { AppError, Status, toGrpcStatus } from './errors.js';
import { inlineReader, type Reader } from './reader.js';
import { createThreadReader, readAcrossBoundary } from './reader-thread.js';
import { openReadOnly, openWritable, type WritableDb } from './sqlite.js';

const dir = mkdtempSync(join(tmpdir(), 'reader-thread-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const OPS = [new URL('../test/support/seat-ops.js', import.meta.url).href];

let n = 0;
/** A database with a write connection kept open, and a reader thread on the file. */
function fresh(): { db: WritableDb; reader: Reader; close: () => Promise<void> } {
  const path = join(dir, `db${n++}.sqlite`);
  const db = openWritable(path, SEAT_MIGRATIONS);
  const reader = createThreadReader({ path, opsModules: OPS, log: pino({ level: 'silent' }) });
  return {
    db,
    reader,
    close: async () => {
      await reader.close();
      db.close();
    },
  };
}

const insert = (db: WritableDb, who: string) => insertSeat.run(db, who);

test('reads run by name on the thread; an error keeps its code across, and the other reads of the turn still arrive', async () => {
  const { db, reader, close } = fresh();
  try {
    insert(db, 'a');
    const [list, taker, missing, sqlite, unknown, fn] = await Promise.allSettled([
      reader.run(listSeats, null),
      reader.run(seatTaker, 1),
      reader.run(seatTaker, 9),
      reader.run(readMissingTable, null),
      reader.run({ name: 'test.nothing', run: () => 0 }, null),
      reader.run(readFunction, null),
    ]);
    assert.deepEqual(list, { status: 'fulfilled', value: ['a'] });
    assert.deepEqual(taker, { status: 'fulfilled', value: 'a' });
    const notFound = (missing as PromiseRejectedResult).reason;
    assert.ok(notFound instanceof AppError);
    assert.deepEqual(toGrpcStatus(notFound), { code: Status.NOT_FOUND, details: 'seat 9 not found' });
    for (const r of [sqlite, unknown, fn]) {
      assert.equal(r.status, 'rejected');
      assert.deepEqual(toGrpcStatus(r.reason), { code: Status.INTERNAL, details: 'internal error' });
    }
  } finally {
    await close();
  }
});

test('every read sees each commit made before it was called, and the snapshot ends with the turn', async () => {
  const { db, reader, close } = fresh();
  try {
    for (let i = 0; i < 30; i++) {
      insert(db, `s${i}`);
      // Several reads in one turn: one message, one read transaction.
      const [seats, again, inTx] = await Promise.all([reader.run(listSeats, null), reader.run(listSeats, null), reader.run(inReadTransaction, null)]);
      assert.equal(seats.length, i + 1, `round ${i}: the read missed a commit made before it was called`);
      assert.deepEqual(again, seats);
      assert.equal(inTx, true, 'the reads of a turn run inside one read transaction');
    }
    // With no snapshot left open, a checkpoint can empty the whole WAL (LiteFS
    // likewise applies a replicated transaction only while no reader holds one).
    const [checkpoint] = db.pragma('wal_checkpoint(TRUNCATE)') as Array<{ busy: number }>;
    assert.equal(checkpoint!.busy, 0, 'the reader thread still holds a snapshot');
  } finally {
    await close();
  }
});

test('a reader thread that dies fails its reads as retryable, and the next read starts a new one', async () => {
  const { db, reader, close } = fresh();
  try {
    insert(db, 'a');
    const lost = await Promise.allSettled([reader.run(readCrash, 3), reader.run(listSeats, null)]);
    for (const r of lost) {
      assert.equal(r.status, 'rejected');
      assert.deepEqual(toGrpcStatus(r.reason), { code: Status.UNAVAILABLE, details: 'read interrupted, retry' });
    }
    assert.deepEqual(await reader.run(listSeats, null), ['a']);
  } finally {
    await close();
  }
});

test('close answers the reads already taken, then refuses new ones', async () => {
  const { db, reader } = fresh();
  insert(db, 'a');
  const taken = reader.run(listSeats, null);
  const closed = reader.close();
  await assert.rejects(reader.run(listSeats, null), (err: unknown) => toGrpcStatus(err).code === Status.UNAVAILABLE);
  assert.deepEqual(await taken, ['a']);
  await closed;
  db.close();
});

test('on the event loop, each read enters its scope first; across the test boundary, what a thread could not carry is refused', async () => {
  const path = join(dir, `db${n++}.sqlite`);
  const db = openWritable(path, SEAT_MIGRATIONS);
  const readDb = openReadOnly(path);
  try {
    insert(db, 'a');
    let entered = 0;
    const inline = inlineReader(readDb, { enter: () => void entered++ });
    assert.deepEqual(await inline.run(listSeats, null), ['a']);
    await assert.rejects(inline.run(seatTaker, 2), (err: unknown) => err instanceof AppError && err.code === Status.NOT_FOUND);
    assert.equal(entered, 2);

    const read = readAcrossBoundary(readDb);
    assert.equal(await read(seatTaker, 1), 'a');
    await assert.rejects(read(readFunction, null), /could not be cloned/);
    await assert.rejects(read(seatTaker, 2), (err: unknown) => err instanceof AppError && err.message === 'seat 2 not found');
  } finally {
    readDb.close();
    db.close();
  }
});

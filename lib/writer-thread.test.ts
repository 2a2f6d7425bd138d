import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { checkOnlyFailuresRollBack, crash, insertSeat, returnFunction, SEAT_MIGRATIONS, takeSeat } from '../test/support/seat-ops.js';
import { AppError, Status, invalidArgument, toGrpcStatus } from './errors.js';
import { openWritable, type WritableDb } from './sqlite.js';
import { fromWire, toWire } from './op-thread.js';
import { createThreadWriter, writeAcrossBoundary } from './writer-thread.js';
import type { Writer } from './writer.js';

const dir = mkdtempSync(join(tmpdir(), 'writer-thread-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const OPS = [new URL('../test/support/seat-ops.js', import.meta.url).href];

let n = 0;
/** A migrated file (as the main thread leaves it) and a writer thread on it. */
function fresh(mode: 'batch' | 'single'): { path: string; writer: Writer; seats: () => string[] } {
  const path = join(dir, `db${n++}.sqlite`);
  openWritable(path, SEAT_MIGRATIONS).close();
  const writer = createThreadWriter({ path, opsModules: OPS, mode, maxBatch: 256, delayMs: 0, log: pino({ level: 'silent' }) });
  const seats = () => {
    const db = new Database(path, { readonly: true });
    try {
      return (db.prepare('SELECT taken_by FROM seats ORDER BY id').all() as Array<{ taken_by: string }>).map((r) => r.taken_by);
    } finally {
      db.close();
    }
  };
  return { path, writer, seats };
}

for (const mode of ['batch', 'single'] as const) {
  describe(`writer thread in ${mode} mode`, () => {
    test('a failing operation rolls back only its own work, and its error keeps its code and text across', async () => {
      const { writer, seats } = fresh(mode);
      try {
        await checkOnlyFailuresRollBack(writer, seats);
      } finally {
        await writer.close();
      }
    });

    test("SQLite's errors map to the same status as on the event loop; an unknown or unsendable result is an internal error", async () => {
      const { writer, seats } = fresh(mode);
      try {
        await writer.run(insertSeat, 'a');
        const [dup, unknown, fn, ok] = await Promise.allSettled([
          writer.run(insertSeat, 'a'),
          writer.run({ name: 'test.nothing', run: () => 0 }, null),
          writer.run(returnFunction, null),
          writer.run(insertSeat, 'b'),
        ]);
        assert.deepEqual(toGrpcStatus((dup as PromiseRejectedResult).reason), { code: Status.ALREADY_EXISTS, details: 'already exists' });
        assert.deepEqual(toGrpcStatus((unknown as PromiseRejectedResult).reason), { code: Status.INTERNAL, details: 'internal error' });
        assert.deepEqual(toGrpcStatus((fn as PromiseRejectedResult).reason), { code: Status.INTERNAL, details: 'internal error' });
        assert.equal(ok.status, 'fulfilled', 'the other answers of the turn still arrive');
        assert.deepEqual(seats(), ['a', 'b']);
      } finally {
        await writer.close();
      }
    });
  });
}

test('a writer thread that dies fails its writes as retryable, and the next write starts a new one', async () => {
  const { writer, seats } = fresh('batch');
  try {
    const lost = await Promise.allSettled([writer.run(crash, 3), writer.run(insertSeat, 'lost')]);
    for (const r of lost) {
      assert.equal(r.status, 'rejected');
      assert.deepEqual(toGrpcStatus(r.reason), { code: Status.UNAVAILABLE, details: 'write interrupted, retry' });
    }
    assert.equal((await writer.run(insertSeat, 'after')).value, 1, 'the batch that died did not commit');
    assert.deepEqual(seats(), ['after']);
  } finally {
    await writer.close();
  }
});

test('close answers the writes already taken, then refuses new ones', async () => {
  const { writer, seats } = fresh('batch');
  const taken = [writer.run(insertSeat, 'a'), writer.run(insertSeat, 'b')];
  const closed = writer.close();
  await assert.rejects(writer.run(insertSeat, 'c'), (err: unknown) => toGrpcStatus(err).code === Status.UNAVAILABLE);
  assert.deepEqual((await Promise.all(taken)).map((r) => r.value), [1, 2]);
  await closed;
  assert.deepEqual(seats(), ['a', 'b']);
});

test('WireError carries an AppError, a SQLite error and anything else across', () => {
  const app = fromWire(structuredClone(toWire(invalidArgument('name', 'required'))));
  assert.ok(app instanceof AppError);
  assert.deepEqual([app.code, app.message, app.field], [Status.INVALID_ARGUMENT, 'name: required', 'name']);
  const sqlite = fromWire(toWire(Object.assign(new Error('UNIQUE constraint failed: seats.taken_by'), { name: 'SqliteError', code: 'SQLITE_CONSTRAINT_UNIQUE' })));
  assert.deepEqual(toGrpcStatus(sqlite), { code: Status.ALREADY_EXISTS, details: 'already exists' });
  assert.deepEqual(toGrpcStatus(fromWire(toWire(new TypeError('x is undefined')))), { code: Status.INTERNAL, details: 'internal error' });
});

test('writeAcrossBoundary (for domain unit tests) refuses what a writer thread could not carry', async () => {
  const db = openWritable(join(dir, `db${n++}.sqlite`), SEAT_MIGRATIONS) as WritableDb;
  const write = writeAcrossBoundary(db);
  assert.equal(await write(insertSeat, 'a'), 1);
  await assert.rejects(write(returnFunction, null), /could not be cloned/);
  await assert.rejects(write(takeSeat, 'b').then(() => write(takeSeat, 'c')), (err: unknown) => err instanceof AppError && err.message === 'full');
  db.close();
});

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { checkOnlyFailuresRollBack, insertSeat, SEAT_MIGRATIONS, takeSeat } from '../test/support/seat-ops.js';
import { openWritable, type WritableDb } from './sqlite.js';
import { Status } from './errors.js';
import { createWriter, defineWrite, writeOpNamed } from './writer.js';
const dir = mkdtempSync(join(tmpdir(), 'writer-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function fresh(): WritableDb {
  return openWritable(join(dir, `db${n++}.sqlite`), SEAT_MIGRATIONS);
}

test('operations are registered by unique name', () => {
  assert.equal(writeOpNamed('test.takeSeat'), takeSeat);
  assert.equal(writeOpNamed('test.nothing'), undefined);
  assert.throws(() => defineWrite('test.takeSeat', () => 0), /defined twice/);
});

for (const mode of ['single', 'batch'] as const) {
  describe(`writer in ${mode} mode`, () => {
    test('a failing request rolls back only its own work, and the others commit', async () => {
      const db = fresh();
      const writer = createWriter(db, { mode, position: () => 0n });
      await checkOnlyFailuresRollBack(writer, () => (db.prepare('SELECT taken_by FROM seats ORDER BY id').all() as Array<{ taken_by: string }>).map((r) => r.taken_by));
      db.close();
    });

    test('every answer carries the TXID read after its commit', async () => {
      const db = fresh();
      let commits = 0n;
      // Stand-in for LiteFS's -pos file: counts the commits.
      const writer = createWriter(db, { mode, position: () => ++commits });
      const [a, b] = await Promise.all([writer.run(takeSeat, 'a'), writer.run(takeSeat, 'b')]);
      if (mode === 'batch') assert.equal(a.txid, b.txid, 'one group commit for concurrent requests');
      else assert.notEqual(a.txid, b.txid, 'one commit per request');
      db.close();
    });
  });
}

test('batch mode closes a batch at maxBatch', async () => {
  const db = fresh();
  let commits = 0n;
  const writer = createWriter(db, { mode: 'batch', position: () => ++commits, maxBatch: 3 });
  const out = await Promise.all(
    Array.from({ length: 7 }, (_, i) => writer.run(insertSeat, `s${i}`)),
  );
  assert.deepEqual(out.map((r) => r.txid), [1n, 1n, 1n, 2n, 2n, 2n, 3n]);
  assert.equal((db.prepare('SELECT count(*) AS c FROM seats').get() as { c: number }).c, 7);
  db.close();
});

/**
 * Stands in for an error after which SQLite rolls the whole transaction back
 * (SQLITE_FULL or SQLITE_IOERR may): the work of the batch so far is gone.
 */
const loseTransaction = defineWrite('test.loseTransaction', (db, _: null) => {
  db.prepare('ROLLBACK').run();
  throw new Error('the disk is full');
});

test('batch mode: when SQLite rolls the whole transaction back, no request of the batch is answered as written', async () => {
  const db = fresh();
  const writer = createWriter(db, { mode: 'batch', position: () => 1n });
  const outcomes = await Promise.allSettled([
    writer.run(insertSeat, 'before'),
    writer.run(loseTransaction, null),
    writer.run(insertSeat, 'after'),
  ]);
  assert.deepEqual(outcomes.map((o) => o.status), ['rejected', 'rejected', 'rejected']);
  const codes = outcomes.map((o) => (o.status === 'rejected' ? (o.reason as { code?: unknown }).code : undefined));
  assert.equal(codes[0], Status.UNAVAILABLE, 'the request before the failure is retryable');
  assert.equal(codes[2], Status.UNAVAILABLE, 'the request after it is retryable');
  assert.equal((db.prepare('SELECT count(*) AS c FROM seats').get() as { c: number }).c, 0);

  // The writer goes on: the next batch commits.
  assert.equal((await writer.run(insertSeat, 'next')).txid, 1n);
  assert.equal((db.prepare('SELECT count(*) AS c FROM seats').get() as { c: number }).c, 1);
  db.close();
});

/** A group-commit writer with `delayMs` on a fresh database; its position counts the commits. */
function delayedWriter(delayMs: number) {
  const db = fresh();
  let commits = 0n;
  const writer = createWriter(db, { mode: 'batch', position: () => ++commits, delayMs });
  return { db, writer, insert: (who: string) => writer.run(insertSeat, who) };
}

test('with delayMs, a busy primary waits for more requests; a lone request does not wait', async () => {
  const { db, insert } = delayedWriter(15);

  // Idle: the first request commits at the next turn, without the delay.
  const started = performance.now();
  assert.equal((await insert('lone')).txid, 1n);
  assert.ok(performance.now() - started < 10, 'a lone request is not delayed');

  // Two at once make a batch of two: the primary is now busy.
  const pair = await Promise.all([insert('a'), insert('b')]);
  assert.deepEqual(pair.map((r) => r.txid), [2n, 2n]);

  // Busy: a request waits, so one arriving 5 ms later joins its commit.
  const first = insert('c');
  await new Promise((resolve) => setTimeout(resolve, 5));
  const second = insert('d');
  assert.deepEqual([(await first).txid, (await second).txid], [3n, 3n], 'both in one commit');
  db.close();
});

/** Resolves at the next turn of the event loop, after pending I/O and immediates. */
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

test('a held batch commits as soon as it has as many requests as the largest recent batch, not after delayMs', async () => {
  const { db, insert } = delayedWriter(2_000);

  // A batch of three: the primary is busy, and the next batches wait for three.
  assert.deepEqual((await Promise.all([insert('a'), insert('b'), insert('c')])).map((r) => r.txid), [1n, 1n, 1n]);

  // Three arriving a turn apart, as a closed loop's clients send again once answered.
  const started = performance.now();
  const d = insert('d');
  await nextTurn();
  const e = insert('e');
  await nextTurn();
  const f = insert('f');
  assert.deepEqual([(await d).txid, (await e).txid, (await f).txid], [2n, 2n, 2n], 'one commit');
  assert.ok(performance.now() - started < 1_000, 'the third request released the batch');
  db.close();
});

test('a held batch that stays short of the recent batches commits after delayMs', async () => {
  const { db, insert } = delayedWriter(60);
  await Promise.all([insert('a'), insert('b'), insert('c')]);

  const started = performance.now();
  const [d, e] = await Promise.all([insert('d'), insert('e')]);
  const waited = performance.now() - started;
  assert.deepEqual([d.txid, e.txid], [2n, 2n]);
  assert.ok(waited >= 50, `held for the delay (${waited.toFixed(1)} ms)`);
  db.close();
});

test('close commits a held batch at once', async () => {
  const { db, writer, insert } = delayedWriter(2_000);
  await Promise.all([insert('a'), insert('b')]);

  const started = performance.now();
  const held = insert('c');
  await nextTurn();
  await writer.close();
  assert.equal((await held).txid, 2n);
  assert.ok(performance.now() - started < 1_000, 'not held for the delay');
  assert.equal((db.prepare('SELECT count(*) AS c FROM seats').get() as { c: number }).c, 3);
  db.close();
});

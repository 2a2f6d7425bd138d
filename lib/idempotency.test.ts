/**
 * Idempotency keys on a real SQLite file, through the real writers (on the
 * event loop in both modes, and on a writer thread), with the seat operations
 * of the writer tests as the requests' writes. The wrapper that applies a
 * call's key (lib/grpc/handler.ts) is tested in lib/grpc/handler.test.ts, and
 * the whole path on the cluster in test/e2e/enroll.e2e.test.ts.
 */
import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { pino } from 'pino';
import { changeMind, SEAT_MIGRATIONS, takeSeat } from '../test/support/seat-ops.js';
import { AppError, Status } from './errors.js';
import {
  IDEMPOTENCY_KEY_HEADER,
  IdempotencyKeysTable,
  KeyRetentionMs,
  idempotencyKeyOf,
  requestDigest,
  runOnce,
  type IdempotentRequest,
  type OnceArgs,
  type OnceResult,
} from './idempotency.js';
import { openWritable, type WritableDb } from './sqlite.js';
import { createThreadWriter } from './writer-thread.js';
import { createWriter, type Writer } from './writer.js';

const dir = mkdtempSync(join(tmpdir(), 'idempotency-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const MIGRATIONS = [...SEAT_MIGRATIONS, IdempotencyKeysTable];
const NOW = Date.parse('2026-12-06T09:00:00Z');

let n = 0;
function fresh(): WritableDb {
  return openWritable(join(dir, `db${n++}.sqlite`), MIGRATIONS);
}

const seats = (db: WritableDb) => (db.prepare('SELECT taken_by FROM seats ORDER BY id').all() as Array<{ taken_by: string }>).map((r) => r.taken_by);
const keys = (db: WritableDb) =>
  (db.prepare('SELECT owner_id, key FROM idempotency_keys ORDER BY owner_id, key').all() as Array<{ owner_id: number; key: string }>).map(
    (r) => `${r.owner_id}:${r.key}`,
  );

/** A request to take a seat for `who`, as the wrapper would describe it. */
function seatRequest(key: string, who: string): IdempotentRequest {
  return { key, digest: requestDigest('/test.v1.Seats/Take', Buffer.from(who)) };
}

function takeOnce(writer: Writer, owner: number, key: string, who: string, nowMs = NOW): Promise<OnceResult> {
  const args: OnceArgs = { owner, request: seatRequest(key, who), op: takeSeat.name, args: who, nowMs };
  return writer.run(runOnce, args).then((r) => r.value);
}

async function rejection(p: Promise<unknown>): Promise<AppError> {
  const err = await p.then(
    () => assert.fail('expected a refusal'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof AppError, `an AppError, got ${String(err)}`);
  return err;
}

for (const mode of ['single', 'batch'] as const) {
  describe(`idempotency keys, writer in ${mode} mode`, () => {
    test('a repeat of the same request gets the first result back, and does nothing again', async () => {
      const db = fresh();
      const writer = createWriter(db, { mode, position: () => 0n });
      assert.deepEqual(await takeOnce(writer, 7, 'k1', 'ada'), { value: 1, replayed: false });
      assert.deepEqual(await takeOnce(writer, 7, 'k1', 'ada'), { value: 1, replayed: true });
      assert.deepEqual(await takeOnce(writer, 7, 'k1', 'ada'), { value: 1, replayed: true });
      assert.deepEqual(seats(db), ['ada']);
      // A new key is a new request.
      assert.deepEqual(await takeOnce(writer, 7, 'k2', 'bob'), { value: 2, replayed: false });
      assert.deepEqual(seats(db), ['ada', 'bob']);
      db.close();
    });

    test('the same key with a different request is refused, and nothing runs', async () => {
      const db = fresh();
      const writer = createWriter(db, { mode, position: () => 0n });
      await takeOnce(writer, 7, 'k1', 'ada');
      const err = await rejection(takeOnce(writer, 7, 'k1', 'bob'));
      assert.equal(err.code, Status.INVALID_ARGUMENT);
      assert.match(err.message, /^idempotency-key: this key was already used for a different request/);
      // Another method with the same bytes is a different request too.
      const otherMethod: OnceArgs = {
        owner: 7,
        request: { key: 'k1', digest: requestDigest('/test.v1.Seats/Other', Buffer.from('ada')) },
        op: takeSeat.name,
        args: 'ada',
        nowMs: NOW,
      };
      assert.equal((await rejection(writer.run(runOnce, otherMethod))).code, Status.INVALID_ARGUMENT);
      assert.deepEqual(seats(db), ['ada']);
      db.close();
    });

    test("keys are the caller's own: another user's same key is another request", async () => {
      const db = fresh();
      const writer = createWriter(db, { mode, position: () => 0n });
      assert.equal((await takeOnce(writer, 7, 'k1', 'ada')).replayed, false);
      assert.deepEqual(await takeOnce(writer, 8, 'k1', 'bob'), { value: 2, replayed: false });
      assert.deepEqual(keys(db), ['7:k1', '8:k1']);
      db.close();
    });

    test('a write that fails stores no key, and sending it again runs it again', async () => {
      const db = fresh();
      const writer = createWriter(db, { mode, position: () => 0n });
      await takeOnce(writer, 1, 'a', 'ada');
      await takeOnce(writer, 1, 'b', 'bob');
      // Full: refused, so the key is not kept.
      assert.equal((await rejection(takeOnce(writer, 7, 'k1', 'cy'))).code, Status.FAILED_PRECONDITION);
      assert.equal((await rejection(takeOnce(writer, 7, 'k1', 'cy'))).code, Status.FAILED_PRECONDITION);
      // Half done, then thrown: neither the row nor the key stays.
      const mind: OnceArgs = { owner: 7, request: seatRequest('k2', 'x'), op: changeMind.name, args: null, nowMs: NOW };
      assert.equal((await rejection(writer.run(runOnce, mind))).code, Status.FAILED_PRECONDITION);
      assert.deepEqual(seats(db), ['ada', 'bob']);
      assert.deepEqual(keys(db), ['1:a', '1:b']);
      // Once a seat is free, the same key and request succeed.
      db.prepare("DELETE FROM seats WHERE taken_by = 'bob'").run();
      assert.deepEqual(await takeOnce(writer, 7, 'k1', 'cy'), { value: 2, replayed: false }); // bob's id, free again
      db.close();
    });

    test('a key is kept for its retention, then forgotten; each new key deletes a few expired ones', async () => {
      const db = fresh();
      const writer = createWriter(db, { mode, position: () => 0n });
      const day = KeyRetentionMs;
      await takeOnce(writer, 7, 'k1', 'ada', NOW);
      assert.equal((await takeOnce(writer, 7, 'k1', 'ada', NOW + day)).replayed, true, 'still kept at the end of its retention');
      db.prepare('DELETE FROM seats').run();
      // A day and a millisecond later the key is new again: the request runs, and the key is stored afresh.
      assert.deepEqual(await takeOnce(writer, 7, 'k1', 'bob', NOW + day + 1), { value: 1, replayed: false });
      assert.equal((await takeOnce(writer, 7, 'k1', 'bob', NOW + day + 2)).replayed, true);

      db.prepare('DELETE FROM seats').run();
      const later = NOW + 3 * day;
      const count = () => (db.prepare('SELECT count(*) AS c FROM idempotency_keys').get() as { c: number }).c;
      // Ten old keys (seats are freed as they go, so every request succeeds), written after 7:k1:
      // the oldest rows are the first in write order, whatever their times.
      for (let i = 0; i < 10; i++) {
        await takeOnce(writer, 9, `old${i}`, `s${i}`, NOW + i);
        db.prepare('DELETE FROM seats').run();
      }
      assert.equal(count(), 11);
      await takeOnce(writer, 9, 'new1', 'n1', later);
      assert.equal(count(), 8, 'the first four went, the new one came');
      assert.deepEqual(keys(db), ['9:new1', '9:old3', '9:old4', '9:old5', '9:old6', '9:old7', '9:old8', '9:old9']);
      db.prepare('DELETE FROM seats').run();
      await takeOnce(writer, 9, 'new2', 'n2', later);
      db.prepare('DELETE FROM seats').run();
      await takeOnce(writer, 9, 'new3', 'n3', later);
      assert.deepEqual(keys(db), ['9:new1', '9:new2', '9:new3']);
      db.close();
    });
  });
}

test('requests with the same key at once: the first runs, every other gets its result', async () => {
  const db = fresh();
  const writer = createWriter(db, { mode: 'batch', position: () => 0n });
  const out = await Promise.all(Array.from({ length: 6 }, () => takeOnce(writer, 7, 'k1', 'ada')));
  assert.deepEqual(
    out.map((o) => o.replayed),
    [false, true, true, true, true, true],
  );
  assert.ok(out.every((o) => o.value === 1));
  assert.deepEqual(seats(db), ['ada']);
  db.close();
});

test('on a writer thread, the key and the request both run there', async () => {
  const path = join(dir, `db${n++}.sqlite`);
  openWritable(path, MIGRATIONS).close();
  const modules = [new URL('../test/support/seat-ops.js', import.meta.url).href, new URL('./idempotency.js', import.meta.url).href];
  const writer = createThreadWriter({ path, opsModules: modules, mode: 'batch', maxBatch: 256, delayMs: 0, log: pino({ level: 'silent' }) });
  try {
    assert.deepEqual(await takeOnce(writer, 7, 'k1', 'ada'), { value: 1, replayed: false });
    assert.deepEqual(await takeOnce(writer, 7, 'k1', 'ada'), { value: 1, replayed: true });
    const err = await rejection(takeOnce(writer, 7, 'k1', 'bob'));
    assert.equal(err.code, Status.INVALID_ARGUMENT);
  } finally {
    await writer.close();
  }
});

describe('the idempotency-key header', () => {
  const md = (...values: string[]) => {
    const m = new grpc.Metadata();
    for (const v of values) m.add(IDEMPOTENCY_KEY_HEADER, v);
    return m;
  };

  test('absent is undefined; a UUID or any visible ASCII up to 255 characters is a key', () => {
    assert.equal(idempotencyKeyOf(new grpc.Metadata()), undefined);
    assert.equal(idempotencyKeyOf(md('5b0e3c9e-4f0a-4d57-9a53-0d8b2f6f1c11')), '5b0e3c9e-4f0a-4d57-9a53-0d8b2f6f1c11');
    assert.equal(idempotencyKeyOf(md('x'.repeat(255))), 'x'.repeat(255));
  });

  test('too long, with spaces (grpc-js itself refuses control characters), empty, or sent twice: INVALID_ARGUMENT naming the header', () => {
    for (const bad of [md('x'.repeat(256)), md('two words'), md(' '), md(''), md('a', 'b')]) {
      assert.throws(
        () => idempotencyKeyOf(bad),
        (err: unknown) => err instanceof AppError && err.code === Status.INVALID_ARGUMENT && err.field === IDEMPOTENCY_KEY_HEADER,
      );
    }
  });

  test('the digest tells requests apart by method and by bytes', () => {
    const a = requestDigest('/s/A', Buffer.from('x'));
    assert.equal(a, requestDigest('/s/A', Buffer.from('x')));
    assert.notEqual(a, requestDigest('/s/B', Buffer.from('x')));
    assert.notEqual(a, requestDigest('/s/A', Buffer.from('y')));
    // The separator keeps a method's end and the bytes' start apart.
    assert.notEqual(requestDigest('/s/A', Buffer.from('bc')), requestDigest('/s/Ab', Buffer.from('c')));
  });
});

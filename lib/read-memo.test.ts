import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, beforeEach, describe, test } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { ReadMemo } from './read-memo.js';
import { encodeShared } from './shared-answers.js';
import { sharedReads, type ReadScope } from './shared-reads.js';
import { openWritable, type ReadableDb, type WritableDb } from './sqlite.js';

const dir = mkdtempSync(join(tmpdir(), 'read-memo-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
let writer: WritableDb;
let reader: ReadableDb;
let computed: number;

function insert(db: Database.Database = writer): void {
  db.prepare('INSERT INTO t DEFAULT VALUES').run();
}

/** The memoised answer: the row count, read through `db`, counting computations. */
function countVia(memo: ReadMemo, db: Database.Database): { c: number } {
  return memo.get('count', () => {
    computed += 1;
    return db.prepare('SELECT count(*) AS c FROM t').get() as { c: number };
  });
}

describe('read memo', () => {
  beforeEach(() => {
    const path = join(dir, `db${n++}.sqlite`);
    writer = openWritable(path, ['CREATE TABLE t (id INTEGER PRIMARY KEY)']);
    reader = new Database(path, { readonly: true }) as ReadableDb;
    computed = 0;
  });

  test('an answer is reused until another connection commits', () => {
    const memo = new ReadMemo(reader);
    assert.equal(countVia(memo, reader).c, 0);
    assert.equal(countVia(memo, reader).c, 0);
    assert.equal(computed, 1, 'the second read reused the first answer');
    insert();
    assert.equal(countVia(memo, reader).c, 1, 'a commit on the writer connection is seen at once');
    assert.equal(computed, 2);
    assert.deepEqual(memo.stats(), { hits: 1, misses: 2 });
  });

  test("the connection's own commits end its answers too (the writer on the event loop reads through it)", () => {
    const memo = new ReadMemo(writer);
    assert.equal(countVia(memo, writer).c, 0);
    insert(writer);
    assert.equal(countVia(memo, writer).c, 1);
    insert(writer);
    insert(writer);
    assert.equal(countVia(memo, writer).c, 3);
    assert.equal(computed, 3);
  });

  test('inside a shared snapshot the answer is the snapshot\'s; the next snapshot sees the commit', async () => {
    const memo = new ReadMemo(reader);
    const reads = sharedReads(reader, () => 0n);
    reads.enter();
    assert.equal(countVia(memo, reader).c, 0);
    insert();
    reads.enter();
    assert.equal(countVia(memo, reader).c, 0, 'the open snapshot still sees no row, and neither does its answer');
    assert.equal(computed, 1);
    await nextTurn();
    reads.enter();
    assert.equal(countVia(memo, reader).c, 1);
    assert.equal(computed, 2);
  });

  test('keys are kept apart, a failed computation keeps nothing, and at most maxEntries answers are kept', () => {
    const memo = new ReadMemo(reader, { maxEntries: 2 });
    assert.deepEqual(memo.get('a', () => ['A']), ['A']);
    assert.deepEqual(memo.get('b', () => ['B']), ['B']);
    assert.throws(() => memo.get('boom', () => { throw new Error('bad page'); }), /bad page/);
    assert.deepEqual(memo.get('boom', () => ['recovered']), ['recovered'], 'the failure was not kept');
    assert.deepEqual(memo.get('a', () => ['A again']), ['A'], 'kept');
    assert.deepEqual(memo.get('boom', () => ['fresh']), ['fresh'], 'past the bound: computed each time, not kept');
  });

  test('a shared answer is frozen, all the way down', () => {
    const memo = new ReadMemo(reader);
    type Page = { rows: Array<{ id: number; name: string }>; token: string };
    const answer = memo.get<Page>('page', () => ({ rows: [{ id: 1, name: 'x' }], token: '' }));
    assert.throws(() => {
      answer.rows[0]!.name = 'changed';
    }, TypeError);
    assert.throws(() => answer.rows.push({ id: 2, name: 'y' }), TypeError);
    assert.equal(memo.get<Page>('page', () => ({ rows: [], token: 'other' })).rows[0]!.name, 'x');
  });

  test('a memoised answer is encoded once while it is reused, and afresh once the data changes', () => {
    const memo = new ReadMemo(reader);
    let encoded = 0;
    const encode = encodeShared((v: unknown) => {
      encoded += 1;
      return Buffer.from(JSON.stringify(v));
    });
    assert.equal(encode(countVia(memo, reader)).toString(), '{"c":0}');
    assert.equal(encode(countVia(memo, reader)).toString(), '{"c":0}');
    assert.equal(encoded, 1);
    insert();
    assert.equal(encode(countVia(memo, reader)).toString(), '{"c":1}');
    assert.equal(encoded, 2);
  });

  test('with a followed TXID the version is that TXID, and a reused answer reads nothing', () => {
    let entered = 0;
    const reads: ReadScope = { enter: () => void (entered += 1) };
    let txid: bigint | undefined = 5n;
    const memo = new ReadMemo(reader, { reads, followed: () => txid });
    assert.equal(countVia(memo, reader).c, 0);
    assert.equal(entered, 1, 'the first answer is read in the read scope');
    insert();
    assert.equal(countVia(memo, reader).c, 0, 'TXID 5 still: the answer is reused without reading');
    assert.equal(entered, 1, 'no read scope entered, so no read lock taken');
    txid = 6n;
    assert.equal(countVia(memo, reader).c, 1, 'a new TXID: read afresh');
    assert.equal(entered, 2);
    insert();
    txid = undefined;
    assert.equal(countVia(memo, reader).c, 2, 'no longer followed: SQLite\'s version sees the commit');
    assert.equal(countVia(memo, reader).c, 2);
    assert.equal(computed, 3);
    assert.equal(entered, 5, 'each version check enters the scope (and the miss once more)');
  });
});

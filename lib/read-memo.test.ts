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

/**
 * The memoised answer: the row count, read through `db` at once (as the
 * event-loop reader does, after entering `reads`), counting computations.
 */
function countVia(memo: ReadMemo, db: Database.Database, reads?: ReadScope): Promise<{ c: number }> {
  return memo.get('count', () => {
    reads?.enter();
    computed += 1;
    return Promise.resolve(db.prepare('SELECT count(*) AS c FROM t').get() as { c: number });
  });
}

/** A computation that ends when told to. */
function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('read memo', () => {
  beforeEach(() => {
    const path = join(dir, `db${n++}.sqlite`);
    writer = openWritable(path, ['CREATE TABLE t (id INTEGER PRIMARY KEY)']);
    reader = new Database(path, { readonly: true }) as ReadableDb;
    computed = 0;
  });

  test('an answer is reused until another connection commits', async () => {
    const memo = new ReadMemo(reader);
    assert.equal((await countVia(memo, reader)).c, 0);
    assert.equal((await countVia(memo, reader)).c, 0);
    assert.equal(computed, 1, 'the second read reused the first answer');
    insert();
    assert.equal((await countVia(memo, reader)).c, 1, 'a commit on the writer connection is seen at once');
    assert.equal(computed, 2);
    assert.deepEqual(memo.stats(), { hits: 1, misses: 2, stale: 0 });
  });

  test("the connection's own commits end its answers too (the writer on the event loop reads through it)", async () => {
    const memo = new ReadMemo(writer);
    assert.equal((await countVia(memo, writer)).c, 0);
    insert(writer);
    assert.equal((await countVia(memo, writer)).c, 1);
    insert(writer);
    insert(writer);
    assert.equal((await countVia(memo, writer)).c, 3);
    assert.equal(computed, 3);
  });

  test('inside a shared snapshot the answer is the snapshot\'s; the next snapshot sees the commit', async () => {
    const reads = sharedReads(reader, () => 0n);
    const memo = new ReadMemo(reader, { reads });
    // Within one turn: no await between the reads.
    const first = countVia(memo, reader, reads);
    insert();
    const second = countVia(memo, reader, reads);
    assert.equal((await first).c, 0);
    assert.equal((await second).c, 0, 'the open snapshot still sees no row, and neither does its answer');
    assert.equal(computed, 1);
    await nextTurn();
    assert.equal((await countVia(memo, reader, reads)).c, 1);
    assert.equal(computed, 2);
  });

  test('keys are kept apart, a failed computation keeps nothing, and at most maxEntries keys are kept', async () => {
    const memo = new ReadMemo(reader, { maxEntries: 2 });
    const answer = (v: string[]) => () => Promise.resolve(v);
    assert.deepEqual(await memo.get('a', answer(['A'])), ['A']);
    await assert.rejects(memo.get('boom', () => Promise.reject(new Error('bad page'))), /bad page/);
    assert.deepEqual(await memo.get('boom', answer(['recovered'])), ['recovered'], 'the failure was not kept');
    assert.deepEqual(await memo.get('a', answer(['A again'])), ['A'], 'kept');
    assert.deepEqual(await memo.get('c', answer(['C'])), ['C']);
    assert.deepEqual(await memo.get('c', answer(['C again'])), ['C'], 'a new key is kept');
    assert.deepEqual(await memo.get('boom', answer(['B again'])), ['recovered'], 'the key computed second stays');
    assert.deepEqual(await memo.get('a', answer(['A anew'])), ['A anew'], 'the key that computed longest ago made room');
  });

  test('callers that miss together share one computation, and a failure reaches them all', async () => {
    const memo = new ReadMemo(reader, { followed: () => 1n });
    let calls = 0;
    const slow = deferred<string[]>();
    const compute = () => {
      calls += 1;
      return slow.promise;
    };
    const both = Promise.all([memo.get('page', compute), memo.get('page', compute)]);
    slow.resolve(['one']);
    const [a, b] = await both;
    assert.equal(a, b, 'the very same answer');
    assert.equal(calls, 1);

    const failing = deferred<string[]>();
    const fail = () => {
      calls += 1;
      return failing.promise;
    };
    const outcomes = Promise.allSettled([memo.get('other', fail), memo.get('other', fail)]);
    failing.reject(new Error('lost'));
    assert.deepEqual((await outcomes).map((o) => o.status), ['rejected', 'rejected']);
    assert.deepEqual(await memo.get('other', () => Promise.resolve(['retried'])), ['retried'], 'the failure was not kept');
    assert.equal(calls, 2);
  });

  test('an answer still being computed when the version moves on is not given for the new version', async () => {
    let txid = 5n;
    const memo = new ReadMemo(reader, { followed: () => txid });
    const old = deferred<string[]>();
    const atFive = memo.get('page', () => old.promise);
    txid = 6n;
    const atSix = memo.get('page', () => Promise.resolve(['six']));
    old.resolve(['five']);
    assert.deepEqual(await atFive, ['five']);
    assert.deepEqual(await atSix, ['six']);
    assert.deepEqual(await memo.get('page', () => Promise.resolve(['again'])), ['six'], 'TXID 6 keeps its own answer');
  });

  test('a shared answer is frozen, all the way down', async () => {
    const memo = new ReadMemo(reader);
    type Page = { rows: Array<{ id: number; name: string }>; token: string };
    const answer = await memo.get<Page>('page', () => Promise.resolve({ rows: [{ id: 1, name: 'x' }], token: '' }));
    assert.throws(() => {
      answer.rows[0]!.name = 'changed';
    }, TypeError);
    assert.throws(() => answer.rows.push({ id: 2, name: 'y' }), TypeError);
    assert.equal((await memo.get<Page>('page', () => Promise.resolve({ rows: [], token: 'other' }))).rows[0]!.name, 'x');
  });

  test('a memoised answer is encoded once while it is reused, and afresh once the data changes', async () => {
    const memo = new ReadMemo(reader);
    let encoded = 0;
    const encode = encodeShared((v: unknown) => {
      encoded += 1;
      return Buffer.from(JSON.stringify(v));
    });
    assert.equal(encode(await countVia(memo, reader)).toString(), '{"c":0}');
    assert.equal(encode(await countVia(memo, reader)).toString(), '{"c":0}');
    assert.equal(encoded, 1);
    insert();
    assert.equal(encode(await countVia(memo, reader)).toString(), '{"c":1}');
    assert.equal(encoded, 2);
  });

  test('with a followed TXID the version is that TXID, and a reused answer reads nothing', async () => {
    let entered = 0;
    const reads: ReadScope = { enter: () => void (entered += 1) };
    let txid: bigint | undefined = 5n;
    const memo = new ReadMemo(reader, { reads, followed: () => txid });
    assert.equal((await countVia(memo, reader, reads)).c, 0);
    assert.equal(entered, 1, 'only the computation read');
    insert();
    assert.equal((await countVia(memo, reader, reads)).c, 0, 'TXID 5 still: the answer is reused without reading');
    assert.equal(entered, 1, 'no read scope entered, so no read lock taken');
    txid = 6n;
    assert.equal((await countVia(memo, reader, reads)).c, 1, 'a new TXID: read afresh');
    assert.equal(entered, 2);
    insert();
    txid = undefined;
    assert.equal((await countVia(memo, reader, reads)).c, 2, 'no longer followed: SQLite\'s version sees the commit');
    assert.equal((await countVia(memo, reader, reads)).c, 2);
    assert.equal(computed, 3);
    assert.equal(entered, 5, 'each version check enters the scope (and the miss once more)');
  });
  describe('answers from before the latest commit (staleMs)', () => {
    /** A memo over a followed TXID whose clock and floor the test moves. */
    function staleMemo(opts: { staleMs: number; floor?: () => bigint }) {
      const state = { txid: 5n };
      const memo = new ReadMemo(reader, { followed: () => state.txid, ...opts });
      return { memo, state };
    }
    const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

    test('while a newer answer is computed, the kept one is given at once; then the newer one', async () => {
      const { memo, state } = staleMemo({ staleMs: 60_000 });
      assert.deepEqual(await memo.get('page', () => Promise.resolve(['five'])), ['five']);
      state.txid = 6n;
      const refresh = deferred<string[]>();
      let computations = 0;
      const compute = () => {
        computations += 1;
        return refresh.promise;
      };
      assert.deepEqual(await memo.get('page', compute), ['five'], 'given without waiting for TXID 6');
      assert.deepEqual(await memo.get('page', compute), ['five'], 'and to the next caller of TXID 6 too');
      state.txid = 7n;
      assert.deepEqual(await memo.get('page', compute), ['five'], 'still the kept answer');
      assert.equal(computations, 1, 'one refresh at a time, however many commits meanwhile');
      refresh.resolve(['six']);
      await nextTurn();
      assert.deepEqual(await memo.get('page', () => Promise.resolve(['seven'])), ['six'], 'the refresh is kept and given while TXID 7 is computed');
      await nextTurn();
      assert.deepEqual(await memo.get('page', () => Promise.resolve(['unused'])), ['seven']);
      assert.deepEqual(memo.stats(), { hits: 1, misses: 1, stale: 4 });
    });

    test('an answer whose computation began longer ago than staleMs is not given: the caller waits', async () => {
      const { memo, state } = staleMemo({ staleMs: 20 });
      await memo.get('page', () => Promise.resolve(['five']));
      await wait(40);
      state.txid = 6n;
      assert.deepEqual(await memo.get('page', () => Promise.resolve(['six'])), ['six']);
      assert.deepEqual(memo.stats(), { hits: 0, misses: 2, stale: 0 });
    });

    test('an answer older than the floor is not given, however recent', async () => {
      let floor = 0n;
      const { memo, state } = staleMemo({ staleMs: 60_000, floor: () => floor });
      await memo.get('page', () => Promise.resolve(['five']));
      state.txid = 7n;
      floor = 6n;
      assert.deepEqual(await memo.get('page', () => Promise.resolve(['seven'])), ['seven'], 'TXID 5 is below the floor of 6');
      state.txid = 8n;
      assert.deepEqual(await memo.get('page', () => Promise.resolve(['eight'])), ['seven'], 'TXID 7 is not');
    });

    test("SQLite's version is never given stale: without a followed TXID every commit is read", async () => {
      const memo = new ReadMemo(reader, { staleMs: 60_000 });
      assert.equal((await countVia(memo, reader)).c, 0);
      insert();
      assert.equal((await countVia(memo, reader)).c, 1);
      assert.equal(computed, 2);
    });

    test('a failed refresh leaves the kept answer, and the next caller tries again', async () => {
      const { memo, state } = staleMemo({ staleMs: 60_000 });
      await memo.get('page', () => Promise.resolve(['five']));
      state.txid = 6n;
      assert.deepEqual(await memo.get('page', () => Promise.reject(new Error('lost'))), ['five']);
      await nextTurn();
      assert.deepEqual(await memo.get('page', () => Promise.resolve(['six'])), ['five'], 'the kept answer, while the retry runs');
      await nextTurn();
      assert.deepEqual(await memo.get('page', () => Promise.resolve(['unused'])), ['six']);
    });
  });
});

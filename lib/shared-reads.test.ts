import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, beforeEach, describe, test } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { sharedReads, type ReadScope } from './shared-reads.js';
import { openWritable, type ReadableDb, type WritableDb } from './sqlite.js';

const dir = mkdtempSync(join(tmpdir(), 'shared-reads-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
let writer: WritableDb;
let reader: ReadableDb;
/** Stands in for LiteFsNode.known: the TXID this process has been told about. */
let known: bigint;
let reads: ReadScope;

function insert(): void {
  writer.prepare('INSERT INTO t DEFAULT VALUES').run();
}

function count(): number {
  reads.enter();
  return (reader.prepare('SELECT count(*) AS c FROM t').get() as { c: number }).c;
}

describe('shared reads', () => {
  beforeEach(() => {
    const path = join(dir, `db${n++}.sqlite`);
    writer = openWritable(path, ['CREATE TABLE t (id INTEGER PRIMARY KEY)']);
    reader = new Database(path, { readonly: true }) as ReadableDb;
    known = 0n;
    reads = sharedReads(reader, () => known);
  });

  test('reads of one turn share a snapshot, and it ends with the turn', async () => {
    assert.equal(count(), 0);
    insert();
    assert.equal(count(), 0, 'the second read of the turn sees the first one\'s snapshot');
    assert.equal(reader.inTransaction, true);
    await nextTurn();
    assert.equal(reader.inTransaction, false, 'the snapshot ended at setImmediate');
    assert.equal(count(), 1, 'the next turn reads a new snapshot');
  });

  test('a newly known TXID replaces the snapshot within the same turn', () => {
    assert.equal(count(), 0);
    insert();
    known = 1n; // e.g. a LiteFS event announced the commit and a waiter was woken
    assert.equal(count(), 1);
    insert();
    assert.equal(count(), 1, 'nothing new was learned: still the snapshot opened after TXID 1');
  });

  test('a snapshot that SQLite ended is reopened, not assumed', () => {
    assert.equal(count(), 0);
    reader.prepare('COMMIT').run(); // the transaction is gone behind the scope's back
    insert();
    assert.equal(count(), 1);
    assert.equal(reader.inTransaction, true);
  });

  test('refuses a writable connection: the writer must never find a transaction open', () => {
    assert.throws(() => sharedReads(writer, () => 0n), /read-only connection/);
  });
});

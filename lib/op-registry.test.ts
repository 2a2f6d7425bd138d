import assert from 'node:assert/strict';
import { test } from 'node:test';
import { opRegistry } from './op-registry.js';

test('an operation is found by its name, and only in its own registry', () => {
  const reads = opRegistry<string[]>('read');
  const writes = opRegistry<string[]>('write');
  const first = reads.define('t.first', (db, i: number) => db[i]);
  assert.equal(reads.named('t.first'), first);
  assert.equal(reads.named('t.first')!.run(['a', 'b'], 1), 'b');
  assert.equal(reads.named('t.other'), undefined);
  assert.equal(writes.named('t.first'), undefined);
  // The same name may name a read and a write: each kind has its own names.
  const put = writes.define('t.first', (db, v: string) => db.push(v));
  assert.equal(writes.named('t.first'), put);
  assert.equal(reads.named('t.first'), first);
});

test('a name is defined once per registry, and the error names the kind', () => {
  const writes = opRegistry<null>('write');
  writes.define('t.once', () => 1);
  assert.throws(() => writes.define('t.once', () => 2), /^Error: write operation t\.once is defined twice$/);
  assert.equal(writes.named('t.once')!.run(null, undefined), 1);
});

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { LiteFsNode } from './litefs.js';

const dir = mkdtempSync(join(tmpdir(), 'litefs-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('position parses the -pos file and is 0 before the database exists', () => {
  const node = new LiteFsNode(dir, 'http://127.0.0.1:1');
  assert.equal(node.position('a.db'), 0n);
  writeFileSync(join(dir, 'a.db-pos'), '00000000000000ff/d06898b347955f23\n');
  assert.equal(node.position('a.db'), 255n);
});

test('waitForTxid resolves when the position arrives, and false on timeout', async () => {
  const node = new LiteFsNode(dir, 'http://127.0.0.1:1');
  writeFileSync(join(dir, 'b.db-pos'), '0000000000000001/00\n');
  const waiting = node.waitForTxid('b.db', 3n, 2000);
  const late = node.waitForTxid('b.db', 9n, 50);
  setTimeout(() => writeFileSync(join(dir, 'b.db-pos'), '0000000000000003/00\n'), 20);
  assert.equal(await waiting, true);
  assert.equal(await late, false);
});

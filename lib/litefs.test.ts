import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
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
  node.close();
});

test('a tx event from the LiteFS API wakes waiters without waiting for the poll', async () => {
  let stream: ServerResponse | undefined;
  const server = createServer((req, res) => {
    assert.equal(req.url, '/events');
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"type":"init","data":{"isPrimary":false,"hostname":"node1"}}\n');
    stream = res;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  // A poll interval far longer than the test: only the event can wake the waiter.
  const node = new LiteFsNode(dir, `http://127.0.0.1:${port}`, { pollIntervalMs: 60_000 });
  writeFileSync(join(dir, 'c.db-pos'), '0000000000000001/00\n');
  const started = Date.now();
  const waiting = node.waitForTxid('c.db', 2n, 5000);
  while (!stream) await new Promise((r) => setTimeout(r, 5));
  writeFileSync(join(dir, 'c.db-pos'), '0000000000000002/00\n');
  stream.write('{"type":"tx","db":"c.db","data":{"txID":"0000000000000002"}}\n');
  assert.equal(await waiting, true);
  assert.ok(Date.now() - started < 2000);
  node.close();
  stream.end();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

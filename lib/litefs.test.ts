import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import { type AppliedCommit, LiteFsNode, fetchInfo } from './litefs.js';

const dir = mkdtempSync(join(tmpdir(), 'litefs-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('position parses the -pos file and is 0 before the database exists', () => {
  const node = new LiteFsNode(dir, 'http://127.0.0.1:1');
  assert.equal(node.position('a.db'), 0n);
  writeFileSync(join(dir, 'a.db-pos'), '00000000000000ff/d06898b347955f23\n');
  assert.equal(node.known('a.db'), 0n, 'nothing learned before the file is read');
  assert.equal(node.position('a.db'), 255n);
  assert.equal(node.known('a.db'), 255n);
});

test('acknowledged is the newest TXID a write answer carried, per database, and never goes back', () => {
  const node = new LiteFsNode(dir, 'http://127.0.0.1:1');
  assert.equal(node.acknowledged('a.db'), 0n);
  node.acknowledge('a.db', 7n);
  node.acknowledge('a.db', 5n);
  node.acknowledge('b.db', 9n);
  assert.equal(node.acknowledged('a.db'), 7n);
  assert.equal(node.acknowledged('b.db'), 9n);
  assert.equal(node.known('a.db'), 0n, 'answering a write is not learning that it arrived');
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

/**
 * A stand-in for the LiteFS API's /events: sends `init`, then whatever the
 * test writes. `stream(n)` is the n-th connection (1 by default).
 */
async function eventServer(): Promise<{ url: string; stream(n?: number): Promise<ServerResponse>; close(): Promise<void> }> {
  const streams: ServerResponse[] = [];
  const server = createServer((req, res) => {
    assert.equal(req.url, '/events');
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"type":"init","data":{"isPrimary":false,"hostname":"node1"}}\n');
    streams.push(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async stream(n = 1) {
      while (streams.length < n) await new Promise((r) => setTimeout(r, 5));
      return streams[n - 1]!;
    },
    async close() {
      for (const stream of streams) stream.end();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

test('a tx event from the LiteFS API wakes waiters without waiting for the poll', async () => {
  const api = await eventServer();
  // A poll interval far longer than the test: only the event can wake the waiter.
  const node = new LiteFsNode(dir, api.url, { pollIntervalMs: 60_000 });
  writeFileSync(join(dir, 'c.db-pos'), '0000000000000001/00\n');
  const started = Date.now();
  const waiting = node.waitForTxid('c.db', 2n, 5000);
  const stream = await api.stream();
  writeFileSync(join(dir, 'c.db-pos'), '0000000000000002/00\n');
  stream.write('{"type":"tx","db":"c.db","data":{"txID":"0000000000000002"}}\n');
  assert.equal(await waiting, true);
  assert.ok(Date.now() - started < 2000);
  node.close();
  await api.close();
});

test("a tx event's TXID counts as reached without reading the position file again", async () => {
  const api = await eventServer();
  const node = new LiteFsNode(dir, api.url, { pollIntervalMs: 60_000 });
  // The file stays behind on purpose: only the events can move the waiters.
  writeFileSync(join(dir, 'd.db-pos'), '0000000000000001/00\n');
  const first = node.waitForTxid('d.db', 0x10n, 5000);
  const stream = await api.stream();
  stream.write('{"type":"tx","db":"d.db","data":{"txID":"000000000000000f"}}\n');
  stream.write('{"type":"tx","db":"other.db","data":{"txID":"00000000000000ff"}}\n');
  const notYet = await Promise.race([first, new Promise((r) => setTimeout(() => r('pending'), 100))]);
  assert.equal(notYet, 'pending', 'TXID 0xf (or another database) must not satisfy a wait for 0x10');
  stream.write('{"type":"tx","db":"d.db","data":{"txID":"0000000000000010"}}\n');
  assert.equal(await first, true);
  // Already announced: answered at once, although the file still says 1.
  assert.equal(await node.waitForTxid('d.db', 0x10n, 1), true);
  assert.equal(node.position('d.db'), 1n);
  // What the process knows never goes back, whichever source is older.
  assert.equal(node.known('d.db'), 0x10n);
  assert.equal(node.known('other.db'), 0xffn);
  // A later TXID still waits (and times out here, since nothing announces it).
  assert.equal(await node.waitForTxid('d.db', 0x11n, 50), false);
  node.close();
  await api.close();
});

/** Polls `probe` until it returns `want` (or fails after 3 s). */
async function until<T>(probe: () => T, want: T, what: string): Promise<void> {
  const deadline = Date.now() + 3000;
  while (probe() !== want) {
    if (Date.now() > deadline) assert.fail(`${what}: still ${String(probe())}, wanted ${String(want)}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('a database is followed from its first announced commit, and again only after one once the stream drops', async (t) => {
  const api = await eventServer();
  const node = new LiteFsNode(dir, api.url, { pollIntervalMs: 60_000 });
  t.after(async () => {
    node.close();
    await api.close();
  });
  writeFileSync(join(dir, 'e.db-pos'), '0000000000000004/00\n');
  node.watch();
  const first = await api.stream(1);
  assert.equal(node.position('e.db'), 4n);
  assert.equal(node.followed('e.db'), undefined, 'known from the file, but no commit announced yet');
  first.write('{"type":"tx","db":"e.db","data":{"txID":"0000000000000005"}}\n');
  await until(() => node.followed('e.db'), 5n, 'after the first tx event');
  assert.equal(node.followed('other.db'), undefined, 'only the announced database');

  // Commits made while the stream is down are never announced.
  first.end();
  await until(() => node.followed('e.db'), undefined, 'after the stream ended');
  const second = await api.stream(2);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(node.followed('e.db'), undefined, 'reconnected, but nothing announced since');
  second.write('{"type":"tx","db":"e.db","data":{"txID":"0000000000000009"}}\n');
  await until(() => node.followed('e.db'), 9n, 'after the next tx event');
});

test("each announced commit reaches the listeners with the primary's timestamp of it", async (t) => {
  const api = await eventServer();
  const node = new LiteFsNode(dir, api.url, { pollIntervalMs: 60_000 });
  t.after(async () => {
    node.close();
    await api.close();
  });
  const seen: AppliedCommit[] = [];
  node.onApplied((commit) => seen.push(commit));
  const stream = await api.stream();
  const before = Date.now();
  stream.write('{"type":"tx","db":"f.db","data":{"txID":"0000000000000007","timestamp":"2026-12-06T13:50:35.482Z","commit":28}}\n');
  // A commit without a readable timestamp still counts for the TXID, but tells the listeners nothing.
  stream.write('{"type":"tx","db":"f.db","data":{"txID":"0000000000000008","timestamp":"yesterday"}}\n');
  stream.write('{"type":"tx","db":"f.db","data":{"txID":"0000000000000009"}}\n');
  await until(() => node.known('f.db'), 9n, 'after three tx events');
  assert.equal(seen.length, 1, JSON.stringify(seen, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)));
  const [commit] = seen;
  assert.equal(commit!.db, 'f.db');
  assert.equal(commit!.txid, 7n);
  assert.equal(commit!.committedAt, Date.UTC(2026, 11, 6, 13, 50, 35, 482));
  assert.ok(commit!.seenAt >= before && commit!.seenAt <= Date.now());
});

test("lagMs reads LiteFS's .lag afresh each time, and is undefined when it cannot be read", async () => {
  const mount = mkdtempSync(join(tmpdir(), 'lag-test-'));
  try {
    const node = new LiteFsNode(mount, 'http://127.0.0.1:1');
    assert.equal(await node.lagMs(), undefined, 'no file');
    writeFileSync(join(mount, '.lag'), '+0000001234\n');
    assert.equal(await node.lagMs(), 1234);
    writeFileSync(join(mount, '.lag'), '+2147483647\n'); // before the replica's first sync
    assert.equal(await node.lagMs(), 2147483647);
    writeFileSync(join(mount, '.lag'), 'not a number\n');
    assert.equal(await node.lagMs(), undefined);
    writeFileSync(join(mount, '.lag'), '');
    assert.equal(await node.lagMs(), undefined, 'an empty file is no reading');
    writeFileSync(join(mount, '.lag'), '1e3\n');
    assert.equal(await node.lagMs(), undefined, 'not the fixed-width integer LiteFS writes');
    writeFileSync(join(mount, '.lag'), '-0000000005\n'); // a clock behind the primary's
    assert.equal(await node.lagMs(), 0);
    node.close();
  } finally {
    rmSync(mount, { recursive: true, force: true });
  }
});

test("fetchInfo reads LiteFS's /info; a replica that knows no primary (hostname \"\") has none", async () => {
  let body: unknown = { isPrimary: false, primary: { hostname: 'node1' } };
  const server = createServer((req, res) => {
    if (req.url !== '/info') return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const api = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    assert.deepEqual(await fetchInfo(api), { isPrimary: false, primaryHostname: 'node1' });
    body = { isPrimary: false, primary: { hostname: '' } };
    assert.deepEqual(await fetchInfo(api), { isPrimary: false, primaryHostname: undefined });
    body = { isPrimary: true, primary: { hostname: 'node1' } };
    assert.deepEqual(await fetchInfo(api), { isPrimary: true, primaryHostname: 'node1' });
    await assert.rejects(fetchInfo(`${api}/nowhere`), /answered 404/);
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

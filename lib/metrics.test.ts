import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { metricSample } from './prometheus-text.js';
import { SEAT_MIGRATIONS, changeMind, insertSeat } from '../test/support/seat-ops.js';
import { createMetrics, observingCommits, serveMetrics } from './metrics.js';
import { openWritable } from './sqlite.js';
import { createWriter, type CommitStats } from './writer.js';

const dir = mkdtempSync(join(tmpdir(), 'metrics-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function get(server: Server, path: string, method = 'GET'): Promise<{ status: number; type: string | null; body: string }> {
  const { port } = server.address() as { port: number };
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { method });
  return { status: res.status, type: res.headers.get('content-type'), body: await res.text() };
}

test('GET /metrics serves the text format, every series labelled with its service and node; nothing else is served', async () => {
  let txid = 41n;
  const metrics = createMetrics({ service: 'enroll', node: 'node2', positions: { 'enroll.db': () => txid } });
  metrics.role(false);
  metrics.replicaLag(1250);
  metrics.call('/enroll.v1.EnrollService/CreateEnrollment', 'OK', 0.004);
  metrics.forwarded('OK', 0.0015);
  const server = await serveMetrics(metrics.registry, '127.0.0.1:0');
  try {
    txid = 42n;
    const res = await get(server, '/metrics');
    assert.equal(res.status, 200);
    assert.match(res.type ?? '', /^text\/plain; version=0\.0\.4/);
    const own = { service: 'enroll', node: 'node2' };
    const has = (name: string, labels: Record<string, string>, value: number) =>
      assert.equal(metricSample(res.body, name, { ...labels, ...own }), value, `${name} ${JSON.stringify(labels)} in\n${res.body}`);
    const call = { grpc_service: 'enroll.v1.EnrollService', grpc_method: 'CreateEnrollment' };
    has('grpc_server_handled_total', { ...call, grpc_code: 'OK' }, 1);
    has('grpc_server_handling_seconds_bucket', { ...call, le: '0.005' }, 1);
    has('grpc_server_handling_seconds_bucket', { ...call, le: '0.0025' }, 0);
    has('course_forwarded_writes_total', { grpc_code: 'OK' }, 1);
    has('course_forward_wait_seconds_count', {}, 1);
    // Read when scraped, not when made.
    has('course_txid', { db: 'enroll.db' }, 42);
    has('course_role', { role: 'primary' }, 0);
    has('course_role', { role: 'replica' }, 1);
    has('course_replica_lag_seconds', {}, 1.25);
    has('course_commit_writes_count', {}, 0);
    // Node's own, from prom-client.
    assert.ok((metricSample(res.body, 'process_cpu_seconds_total', own) ?? -1) > 0, 'process metrics');
    assert.notEqual(metricSample(res.body, 'nodejs_eventloop_lag_p99_seconds', own), undefined, 'event-loop delay');

    assert.equal((await get(server, '/')).status, 404);
    assert.equal((await get(server, '/metrics/x')).status, 404);
    assert.equal((await get(server, '/metrics', 'POST')).status, 404);
    assert.equal((await get(server, '/metrics?debug=1')).status, 200);
  } finally {
    server.close();
  }
});

test('a bad metrics address is refused with its name', () => {
  const metrics = createMetrics({ service: 'auth', node: 'node1' });
  assert.throws(() => serveMetrics(metrics.registry, 'localhost'), /host:port, got localhost/);
  assert.throws(() => serveMetrics(metrics.registry, '127.0.0.1:99999'), /host:port/);
});

test("each commit: how long after its LiteFS timestamp it became visible here, and the newest commit's timestamp", async () => {
  const metrics = createMetrics({ service: 'enroll', node: 'node2' });
  const at = Date.UTC(2026, 11, 6, 12, 0, 0, 0);
  const commits = [
    { txid: 10n, committedAt: at, seenAt: at + 2 },
    { txid: 12n, committedAt: at + 1000, seenAt: at + 1030 },
    // Announced late (a reconnect): counted with its whole time, but not the newest commit.
    { txid: 11n, committedAt: at + 500, seenAt: at + 1031 },
    // A replica's clock a little behind the primary's: no time, not less than none.
    { txid: 13n, committedAt: at + 2000, seenAt: at + 1999 },
  ];
  for (const c of commits) metrics.applied({ db: 'enroll.db', ...c });
  const text = await metrics.registry.metrics();
  const own = { db: 'enroll.db', service: 'enroll', node: 'node2' };
  const has = (name: string, labels: Record<string, string>, value: number) =>
    assert.equal(metricSample(text, name, { ...own, ...labels }), value, `${name} ${JSON.stringify(labels)} in\n${text}`);
  has('course_commit_timestamp_seconds', {}, (at + 2000) / 1000);
  has('course_commit_visible_seconds_count', {}, 4);
  assert.ok(Math.abs(metricSample(text, 'course_commit_visible_seconds_sum', own)! - 0.563) < 1e-9);
  has('course_commit_visible_seconds_bucket', { le: '0.0025' }, 2);
  has('course_commit_visible_seconds_bucket', { le: '0.05' }, 3);
  has('course_commit_visible_seconds_bucket', { le: '0.5' }, 3);
  has('course_commit_visible_seconds_bucket', { le: '1' }, 4);
});

for (const mode of ['batch', 'single'] as const) {
  test(`observingCommits sees each commit of a ${mode} writer once, with the writes it carried`, async () => {
    const db = openWritable(join(dir, `${mode}.sqlite`), SEAT_MIGRATIONS);
    const seen: CommitStats[] = [];
    const writer = observingCommits(createWriter(db, { mode, position: () => 0n }), { commit: (s) => void seen.push(s) });
    // Five writes at once, one of which fails in its savepoint; then one alone.
    const outcomes = await Promise.allSettled([
      ...['a', 'b', 'c', 'd'].map((who) => writer.run(insertSeat, who)),
      writer.run(changeMind, null),
    ]);
    assert.deepEqual(outcomes.map((o) => o.status), ['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'rejected']);
    await writer.run(insertSeat, 'e');
    if (mode === 'batch') assert.deepEqual(seen.map((s) => [s.seq, s.writes]), [[1, 5], [2, 1]]);
    // One transaction each; the failed one rolled back, and is no commit.
    else assert.deepEqual(seen.map((s) => [s.seq, s.writes]), [[1, 1], [2, 1], [3, 1], [4, 1], [5, 1]]);
    for (const s of seen) assert.ok(s.ms >= 0 && s.ms < 5_000, `a commit's time is a duration (${s.ms} ms)`);
    await writer.close();
    db.close();
  });
}

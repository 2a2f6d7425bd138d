import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Cluster } from '../../test/harness/cluster.js';
import { createMetrics, serveMetrics } from '../../lib/metrics.js';
import { primaryCommits, withCommitTime } from './writes.js';
import type { Row } from './types.js';

/** A cluster whose node1 serves `metrics` where the enrollment service's would be. */
function clusterServing(addr: string): Cluster {
  return { node: () => ({ enrollMetrics: addr }) } as unknown as Cluster;
}

test("primaryCommits reads the commits made meanwhile from the primary's metrics, and their mean time", async () => {
  const metrics = createMetrics({ service: 'enroll', node: 'node1' });
  metrics.commit({ writer: 1, seq: 1, writes: 3, ms: 100 });
  const server = await serveMetrics(metrics.registry, '127.0.0.1:0');
  try {
    const { port } = server.address() as { port: number };
    const since = await primaryCommits(clusterServing(`127.0.0.1:${port}`));
    metrics.commit({ writer: 1, seq: 2, writes: 8, ms: 4 });
    metrics.commit({ writer: 1, seq: 3, writes: 2, ms: 6 });
    const c = await since();
    assert.equal(c?.commits, 2);
    assert.ok(Math.abs(c!.meanMs - 5) < 1e-6, `mean ${c?.meanMs}`);
    const row = withCommitTime({ notes: 'n', extra: {} } as unknown as Row, c, 'warm-up included');
    assert.equal(row.notes, "n; the primary's writer took 5 ms per commit (mean of 2 commits, warm-up included, from its metrics)");
    assert.equal(row.extra?.commit_ms, 5);
  } finally {
    server.close();
  }
});

test('without metrics to read (nothing listening, or no commit meanwhile) the row is left as it was', async () => {
  const metrics = createMetrics({ service: 'enroll', node: 'node1' });
  const server = await serveMetrics(metrics.registry, '127.0.0.1:0');
  const { port } = server.address() as { port: number };
  try {
    assert.equal(await (await primaryCommits(clusterServing(`127.0.0.1:${port}`)))(), undefined, 'no commit meanwhile');
  } finally {
    server.close();
  }
  assert.equal(await (await primaryCommits(clusterServing(`127.0.0.1:${port}`)))(), undefined, 'nothing listening');
  const row = { notes: 'n' } as unknown as Row;
  assert.equal(withCommitTime(row, undefined), row);
});

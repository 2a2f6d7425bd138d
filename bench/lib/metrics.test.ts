import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMetrics, serveMetrics } from '../../lib/metrics.js';
import { histogramSince } from './metrics.js';

test("histogramSince gives what one series of a service's histogram gained, and nothing for a series it does not have", async () => {
  const metrics = createMetrics({ service: 'enroll', node: 'node2' });
  const at = Date.now();
  metrics.applied({ db: 'enroll.db', txid: 1n, committedAt: at, seenAt: at + 50 });
  const server = await serveMetrics(metrics.registry, '127.0.0.1:0');
  try {
    const addr = `127.0.0.1:${(server.address() as { port: number }).port}`;
    const own = { db: 'enroll.db', service: 'enroll', node: 'node2' };
    const since = await histogramSince(addr, 'course_commit_visible_seconds', own);
    const elsewhere = await histogramSince(addr, 'course_commit_visible_seconds', { ...own, db: 'auth.db' });
    assert.equal(await since(), undefined, 'nothing gained yet');
    metrics.applied({ db: 'enroll.db', txid: 2n, committedAt: at, seenAt: at + 2 });
    metrics.applied({ db: 'enroll.db', txid: 3n, committedAt: at, seenAt: at + 6 });
    const gain = await since();
    assert.equal(gain?.count, 2);
    assert.ok(Math.abs(gain!.mean - 0.004) < 1e-9, `mean ${gain?.mean}`);
    assert.equal(await elsewhere(), undefined);
  } finally {
    server.close();
  }
});

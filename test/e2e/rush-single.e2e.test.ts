/**
 * The registration rush with WRITE_MODE=single (one transaction per request):
 * 200 students at once, one small section, all three nodes. The invariants
 * are checked inside runRush on every node.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { useCluster } from '../harness/cluster.js';
import { runRush } from '../support/rush.js';
import { assertStartedWith } from '../support/started.js';

describe('registration rush (single writes)', () => {
  const env = useCluster({ env: { WRITE_MODE: 'single' } });

  test('a registration rush keeps every rule on every node (single writes)', async (t) => {
    assertStartedWith(env.cluster, 1, { isPrimary: true, writeMode: 'single' });
    const report = await runRush(env.cluster, { students: 200, capacity: 10, waitlistCapacity: 15 });
    t.diagnostic(`rush (single): ${JSON.stringify(report)}`);
    assert.equal(report.commits, report.writes, 'one transaction per request: every acknowledged write has its own TXID');
  });
});

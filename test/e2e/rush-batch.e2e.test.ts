/**
 * The registration rush with WRITE_MODE=batch (group commit) and the default
 * writer thread and the default batch hold (WRITE_BATCH_DELAY_MS): 200
 * students at once, one small section, all three nodes.
 * The invariants are checked inside runRush on every node.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { useCluster } from '../harness/cluster.js';
import { runRush } from '../support/rush.js';
import { assertStartedWith } from '../support/started.js';
import { DefaultBatchDelayMs } from '../../lib/writer.js';

describe('registration rush (batch writes)', () => {
  const env = useCluster({ env: { WRITE_MODE: 'batch' } });

  test('a registration rush keeps every rule on every node (batch writes)', async (t) => {
    assertStartedWith(env.cluster, 1, { isPrimary: true, writeMode: 'batch', writerThread: true, batchDelayMs: DefaultBatchDelayMs, readThread: true });
    const report = await runRush(env.cluster, { students: 200, capacity: 10, waitlistCapacity: 15 });
    t.diagnostic(`rush (batch): ${JSON.stringify(report)}`);
    // 200 writes at once: group commit puts some of them in one transaction.
    assert.ok(report.commits < report.writes, `${report.writes} acknowledged writes in ${report.commits} commits`);
  });
});

/**
 * The registration rush with group commit run on the primary's event loop
 * (WRITER_THREAD=off) instead of the default writer thread: the same rules
 * must hold whichever thread runs the transaction.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { useCluster } from '../harness/cluster.js';
import { runRush } from '../support/rush.js';
import { assertStartedWith } from '../support/started.js';
import { DefaultBatchDelayMs } from '../../lib/writer.js';

describe('registration rush (batch writes on the event loop)', () => {
  const env = useCluster({ env: { WRITE_MODE: 'batch', WRITER_THREAD: 'off' } });

  test('a registration rush keeps every rule on every node (batch writes, no writer thread)', async (t) => {
    assertStartedWith(env.cluster, 1, { isPrimary: true, writeMode: 'batch', writerThread: false, batchDelayMs: DefaultBatchDelayMs });
    const report = await runRush(env.cluster, { students: 200, capacity: 10, waitlistCapacity: 15 });
    t.diagnostic(`rush (batch, event loop): ${JSON.stringify(report)}`);
    assert.ok(report.commits < report.writes, `${report.writes} acknowledged writes in ${report.commits} commits`);
  });
});

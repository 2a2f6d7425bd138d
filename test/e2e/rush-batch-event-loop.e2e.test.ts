/**
 * The registration rush with group commit and reads run on each node's event
 * loop (WRITER_THREAD=off, READ_THREAD=off) instead of the default writer and
 * reader threads: the same rules must hold whichever thread runs the
 * transaction, and reads must see the same data whichever thread reads it.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { useCluster } from '../harness/cluster.js';
import { runRush } from '../support/rush.js';
import { assertStartedWith } from '../support/started.js';
import { DefaultBatchDelayMs } from '../../lib/writer.js';

describe('registration rush (batch writes and reads on the event loop)', () => {
  const env = useCluster({ env: { WRITE_MODE: 'batch', WRITER_THREAD: 'off', READ_THREAD: 'off' } });

  test('a registration rush keeps every rule on every node (batch writes, no writer or reader thread)', async (t) => {
    assertStartedWith(env.cluster, 1, { isPrimary: true, writeMode: 'batch', writerThread: false, batchDelayMs: DefaultBatchDelayMs, readThread: false });
    assertStartedWith(env.cluster, 3, { isPrimary: false, readThread: false });
    const report = await runRush(env.cluster, { students: 200, capacity: 10, waitlistCapacity: 15 });
    t.diagnostic(`rush (batch, event loop): ${JSON.stringify(report)}`);
    assert.ok(report.commits < report.writes, `${report.writes} acknowledged writes in ${report.commits} commits`);
  });
});

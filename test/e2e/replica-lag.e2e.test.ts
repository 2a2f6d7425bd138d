/**
 * Bounded staleness through Envoy, on the real cluster with REPLICA_MAX_LAG_MS
 * at 1.5 s: a replica that stops hearing from its primary (here the primary is
 * stopped, so neither replica hears anything: no transaction, no heartbeat)
 * stops reporting `role.replica`, so Envoy stops counting it among the
 * replicas it reads from; the reads fall back to every node still up and keep
 * working. Once the primary is back, both replicas offer reads again.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { useCluster, waitUntil, type NodeNumber } from '../harness/cluster.js';
import { http } from '../support/clients.js';
import { healthStatus } from '../support/health.js';
import { metricSample, scrape } from '../support/metrics.js';
import { loginHttp } from '../support/school.js';

const MAX_LAG_MS = 1500;
const REPLICAS = [2, 3] as const;

describe('a replica that stops hearing from its primary stops offering reads to Envoy', () => {
  const env = useCluster({ env: { REPLICA_MAX_LAG_MS: String(MAX_LAG_MS) } });

  /** Each replica service's `role.replica` health: auth@node2, enroll@node2, auth@node3, enroll@node3. */
  const replicaRoles = () =>
    Promise.all(REPLICAS.flatMap((n) => [env.cluster.node(n).authGrpc, env.cluster.node(n).enrollGrpc].map((addr) => healthStatus(addr, 'role.replica'))));
  const lagSeconds = async (n: NodeNumber) =>
    metricSample(await scrape(env.cluster.node(n).enrollMetrics), 'course_replica_lag_seconds', { service: 'enroll', node: `node${n}` });

  test('with the primary stopped, both replicas withdraw from reads and reads go on; with it back, they offer reads again', async () => {
    assert.deepEqual(await replicaRoles(), ['SERVING', 'SERVING', 'SERVING', 'SERVING'], 'current replicas offer reads');
    for (const n of REPLICAS) {
      const lag = await lagSeconds(n);
      assert.ok(lag !== undefined && lag >= 0 && lag * 1000 < MAX_LAG_MS, `node${n} heard from its primary lately (lag ${lag} s)`);
    }
    const token = await loginHttp(env.cluster.registrar);

    await env.cluster.stopNode(1);
    const stopped = Date.now();
    await waitUntil(async () => (await replicaRoles()).every((s) => s === 'NOT_SERVING'), 15_000, { what: 'both replicas to stop offering reads' });
    assert.ok(Date.now() - stopped >= MAX_LAG_MS - 1000, 'not before the lag could pass its bound');
    for (const n of REPLICAS) {
      assert.ok(((await lagSeconds(n)) ?? 0) * 1000 > MAX_LAG_MS, `node${n}'s lag is past the bound`);
      assert.equal(await healthStatus(env.cluster.node(n).enrollGrpc), 'SERVING', `node${n} still serves (reads on it directly, and Envoy's fallback)`);
      assert.ok(
        env.cluster.logEntries(`node${n}`).some((e) => e.service === 'enroll' && String(e.msg).includes('stops offering reads')),
        `node${n} logs that it stopped offering reads`,
      );
    }
    // Envoy's health checks catch up with the replicas within a few seconds; reads are
    // answered throughout, by whichever nodes are up.
    await waitUntil(async () => !(await env.cluster.envoyHealthy(['enroll_replica'], 2)), 15_000, { what: "Envoy to drop node2 from the replicas' cluster" });
    for (let i = 0; i < 6; i++) {
      const read = await http('GET', '/departments', { token });
      assert.equal(read.status, 200, `read ${i} with no current replica: ${read.text}`);
    }

    await env.cluster.startNode(1);
    await waitUntil(async () => (await replicaRoles()).every((s) => s === 'SERVING'), 30_000, { what: 'both replicas to offer reads again' });
    for (const n of REPLICAS) {
      assert.ok(
        env.cluster.logEntries(`node${n}`).some((e) => e.service === 'enroll' && String(e.msg).includes('offers reads to Envoy')),
        `node${n} logs that it offers reads again`,
      );
    }
  });
});

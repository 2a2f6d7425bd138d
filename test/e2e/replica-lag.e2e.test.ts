/**
 * Bounded staleness through Envoy, on the real cluster with REPLICA_MAX_LAG_MS
 * at 1.5 s. A replica that stops hearing from its primary (no transaction, no
 * heartbeat) stops reporting `role.replica`, so Envoy stops counting it among
 * the replicas it reads from:
 * - node2 cut off alone (its LiteFS reaches the primary's through a proxy the
 *   test cuts): Envoy reads from node3 only, which has every write; node2 itself
 *   refuses writes (it knows no primary), reads of a TXID it lacks and reads
 *   bounding their staleness (x-max-staleness-ms), with UNAVAILABLE; once the
 *   proxy passes again, it catches up and offers reads again;
 * - node2 cut off for longer than the primary keeps its LTX files (2 s here):
 *   it catches up from a snapshot, and its services answer the primary's data;
 * - the primary stopped: neither replica hears anything, both withdraw, the
 *   reads fall back to every node still up and keep working; once the primary
 *   is back, both offer reads again.
 */
import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, test } from 'node:test';
import { useClusterWithNode2Proxied, waitUntil, type NodeNumber } from '../harness/cluster.js';
import { call, enrollClient, http, txidOf, uniqueName } from '../support/clients.js';
import { healthStatus } from '../../lib/grpc/health-client.js';
import { metricSample, scrape } from '../../lib/prometheus-text.js';
import { loginHttp } from '../support/school.js';
import { statusReport } from '../support/status.js';

const MAX_LAG_MS = 1500;
const REPLICAS = [2, 3] as const;

describe('a replica that stops hearing from its primary stops offering reads to Envoy', () => {
  // LiteFS keeps LTX files 2 s and looks for old ones every second (10 min and 1 min by
  // default), so a replica cut off for a few seconds catches up from a snapshot.
  const clusterEnv: Record<string, string> = {
    REPLICA_MAX_LAG_MS: String(MAX_LAG_MS),
    LITEFS_RETENTION: '2s',
    LITEFS_RETENTION_MONITOR_INTERVAL: '1s',
  };
  // node2's LiteFS reaches the primary's through a proxy the tests cut.
  const env = useClusterWithNode2Proxied({ env: clusterEnv });

  /** The `role.replica` health of node n's services: [auth, enroll]. */
  const rolesOf = (n: NodeNumber) =>
    Promise.all([env.cluster.node(n).authGrpc, env.cluster.node(n).enrollGrpc].map((addr) => healthStatus(addr, 'role.replica')));
  /** Each replica service's `role.replica` health: auth@node2, enroll@node2, auth@node3, enroll@node3. */
  const replicaRoles = async () => [...(await rolesOf(2)), ...(await rolesOf(3))];
  const lagSeconds = async (n: NodeNumber) =>
    metricSample(await scrape(env.cluster.node(n).enrollMetrics), 'course_replica_lag_seconds', { service: 'enroll', node: `node${n}` });
  const logged = (n: NodeNumber, text: string) =>
    env.cluster.logEntries(`node${n}`).filter((e) => e.service === 'enroll' && String(e.msg).includes(text)).length;
  /** The department names node n's enrollment service answers with, read on that node directly. */
  const departmentsOn = async (n: NodeNumber, token: string): Promise<string[]> => {
    const client = enrollClient(env.cluster.node(n).enrollGrpc);
    try {
      const answer = await call(client, 'ListDepartments', { page_size: 1000 }, { token });
      assert.ifError(answer.error);
      return answer.response.departments.map((d: { name: string }) => d.name);
    } finally {
      client.close();
    }
  };

  test('with node2 cut off from the primary, Envoy reads from node3 alone, which has every write, and node2 refuses reads it cannot promise; joined again, it catches up and offers reads', async (t) => {
    const proxy = env.proxy();
    assert.ok(proxy.accepted > 0, "node2's LiteFS reached the primary through the proxy");
    assert.deepEqual(await replicaRoles(), ['SERVING', 'SERVING', 'SERVING', 'SERVING'], 'current replicas offer reads');
    // A cluster the harness calls ready is whole for `npm run status` too.
    const whole = await statusReport();
    assert.deepEqual(whole.report.problems, [], '`npm run status` finds nothing wrong');
    assert.equal(whole.code, 0);
    assert.deepEqual(whole.report.envoy.healthy.enroll_replica, ['node2', 'node3']);
    const token = await loginHttp(env.cluster.registrar);

    proxy.cut();
    const cut = Date.now();
    await waitUntil(async () => (await rolesOf(2)).every((s) => s === 'NOT_SERVING'), 15_000, { what: 'node2 to stop offering reads' });
    const withdrawnMs = Date.now() - cut;
    assert.ok(withdrawnMs >= MAX_LAG_MS - 1000, 'not before the lag could pass its bound');
    assert.ok(((await lagSeconds(2)) ?? 0) * 1000 > MAX_LAG_MS, "node2's lag is past the bound");
    assert.equal(await healthStatus(env.cluster.node(2).enrollGrpc), 'SERVING', 'node2 still serves');
    assert.ok(logged(2, 'stops offering reads') > 0, 'node2 logs that it stopped offering reads');
    assert.deepEqual(await rolesOf(3), ['SERVING', 'SERVING'], 'node3 hears its primary and still offers reads');
    assert.equal(logged(3, 'stops offering reads'), 0, 'node3 never withdrew');
    await waitUntil(async () => !(await env.cluster.envoyHealthy(['enroll_replica'], 2)), 15_000, { what: "Envoy to drop node2 from the replicas' cluster" });
    assert.ok(await env.cluster.envoyHealthy(['enroll_replica'], 3), 'Envoy keeps node3 among the replicas');
    t.diagnostic(`after the cut (bound ${MAX_LAG_MS} ms): node2 withdrew within ${withdrawnMs} ms, Envoy dropped it within ${Date.now() - cut} ms`);
    // Envoy no longer fetches the JWKS from node2 (its copy may lack a new key), but could
    // if no node were current.
    await waitUntil(async () => !(await env.cluster.envoyHealthy(['auth_jwks_current'], 2)), 15_000, { what: 'Envoy to stop fetching the JWKS from node2' });
    assert.ok(await env.cluster.envoyHealthy(['auth_jwks_current'], 1), 'the primary serves current keys');
    assert.ok(await env.cluster.envoyHealthy(['auth_jwks_current'], 3), 'node3 serves current keys');
    assert.ok(await env.cluster.envoyHealthy(['auth_jwks'], 2), 'node2 can still serve the JWKS as a last resort');
    // `npm run status` names what is wrong, and only that.
    const partitioned = await statusReport();
    assert.equal(partitioned.code, 1, 'status exits 1 with a replica cut off');
    assert.equal(partitioned.report.nodes[1]!.litefs?.primary, undefined, "node2's LiteFS knows no primary");
    assert.deepEqual(partitioned.report.envoy.healthy.auth_jwks_current, ['node1', 'node3'], 'status shows where Envoy fetches the JWKS');
    assert.ok(partitioned.report.problems.includes('node2: LiteFS knows no primary (cut off from it, or the primary is down): writes sent to this node fail'));
    assert.ok(partitioned.report.problems.some((p) => /^node2 enroll: not offering reads \(last heard from its primary \d+\.\d s ago\)$/.test(p)));
    assert.ok(partitioned.report.problems.includes('Envoy: enroll_replica has 1 of 2 hosts healthy'));
    assert.ok(!partitioned.report.problems.some((p) => /node[13]/.test(p)), `nothing about node1 or node3: ${partitioned.report.problems.join('; ')}`);

    // A write after the cut reaches the primary and node3, never node2 ...
    const name = uniqueName('Partitioned ');
    const created = await http('POST', '/departments', { token, body: { name } });
    assert.equal(created.status, 200, created.text);
    await waitUntil(async () => (await departmentsOn(3, token)).includes(name), 10_000, { what: 'node3 to have the new department' });
    assert.ok(!(await departmentsOn(2, token)).includes(name), 'node2, cut off, does not have it');
    // ... so every read through Envoy, which may only go to node3, sees it. (x-min-txid 0:
    // no wait for this process's writes, which would hide a read sent to node2.)
    for (let i = 0; i < 10; i++) {
      const read = await http('GET', '/departments?page_size=1000', { token, headers: { 'x-min-txid': '0' } });
      assert.equal(read.status, 200, read.text);
      assert.ok(
        read.body.departments.some((d: { name: string }) => d.name === name),
        `read ${i} through Envoy has the write made after the cut (no read went to node2)`,
      );
    }

    // The consistency contract, cut off. node2's LiteFS names no primary while it has none,
    // so a write sent to node2 itself is refused at once with a retryable UNAVAILABLE, and
    // stored nowhere; a read on node2 that asks for the TXID of the write above gets a clear,
    // retryable UNAVAILABLE too, while the same read through Envoy (node3) is answered.
    const txid = txidOf(created.headers) ?? assert.fail('the write carries its TXID');
    const refusedName = uniqueName('Refused ');
    const direct = enrollClient(env.cluster.node(2).enrollGrpc);
    try {
      const refused = await call(direct, 'CreateDepartment', { name: refusedName }, { token });
      assert.equal(refused.error?.code, grpc.status.UNAVAILABLE, 'a write on node2 while it has no primary');
      assert.match(refused.error.details, /primary is unknown/);
      const stale = await call(direct, 'ListDepartments', { page_size: 1000 }, { token, metadata: { 'x-min-txid': txid } });
      assert.equal(stale.error?.code, grpc.status.UNAVAILABLE, 'node2 cannot promise that TXID');
      assert.match(stale.error.details, /has not yet replicated TXID \d+ .*retry/);
      // A read that bounds its staleness is refused here, answered on node3 and through Envoy.
      const bounded = { token, metadata: { 'x-max-staleness-ms': String(MAX_LAG_MS) } };
      const tooOld = await call(direct, 'ListDepartments', { page_size: 1000 }, bounded);
      assert.equal(tooOld.error?.code, grpc.status.UNAVAILABLE, 'node2 is staler than the read allows');
      assert.match(tooOld.error.details, /^this node last heard from its primary \d+ ms ago, more than x-max-staleness-ms allows \(1500\): retry/);
      const onNode3 = enrollClient(env.cluster.node(3).enrollGrpc);
      try {
        assert.ifError((await call(onNode3, 'ListDepartments', { page_size: 1000 }, bounded)).error);
      } finally {
        onNode3.close();
      }
    } finally {
      direct.close();
    }
    const boundedViaEnvoy = await http('GET', '/departments?page_size=1000', { token, headers: { 'x-max-staleness-ms': String(MAX_LAG_MS) } });
    assert.equal(boundedViaEnvoy.status, 200, boundedViaEnvoy.text);
    const malformed = await http('GET', '/departments', { token, headers: { 'x-max-staleness-ms': 'soon' } });
    assert.equal(malformed.status, 400, `the header reaches the service through Envoy: ${malformed.text}`);
    assert.match(malformed.text, /x-max-staleness-ms: must be a whole number of milliseconds/);
    const viaEnvoy = await http('GET', '/departments?page_size=1000', { token, headers: { 'x-min-txid': txid } });
    assert.equal(viaEnvoy.status, 200, viaEnvoy.text);
    assert.ok(viaEnvoy.body.departments.some((d: { name: string }) => d.name === name), 'the same read through Envoy is answered');

    const offeredBefore = logged(2, 'offers reads to Envoy');
    proxy.restore();
    const restored = Date.now();
    await waitUntil(async () => (await rolesOf(2)).every((s) => s === 'SERVING'), 30_000, { what: 'node2 to offer reads again' });
    t.diagnostic(`after the proxy passed again: node2 offered reads within ${Date.now() - restored} ms`);
    await waitUntil(() => env.cluster.envoyHealthy(['auth_jwks_current'], 2), 15_000, { what: 'Envoy to fetch the JWKS from node2 again' });
    assert.ok(logged(2, 'offers reads to Envoy') > offeredBefore, 'node2 logs that it offers reads again');
    const caughtUp = await departmentsOn(2, token);
    assert.ok(caughtUp.includes(name), 'node2 caught up with the write it missed');
    assert.ok(!caughtUp.includes(refusedName) && !(await departmentsOn(1, token)).includes(refusedName), 'the refused write was stored nowhere');
  });


  test("cut off for longer than the primary keeps its LTX files, node2 catches up from a snapshot, and its services answer with the primary's data", async (t) => {
    await waitUntil(async () => (await rolesOf(2)).every((s) => s === 'SERVING'), 30_000, { what: 'node2 to offer reads' });
    const token = await loginHttp(env.cluster.registrar);
    const txidOf2 = async (n: NodeNumber) =>
      metricSample(await scrape(env.cluster.node(n).enrollMetrics), 'course_txid', { db: 'enroll.db', service: 'enroll', node: `node${n}` });
    await departmentsOn(2, token); // node2's catalogue memo holds the list as it is now
    const at = (await txidOf2(2)) ?? assert.fail("node2's enroll.db TXID");

    const proxy = env.proxy();
    proxy.cut();
    const names = [1, 2, 3].map(() => uniqueName('Snapshot '));
    for (const name of names) {
      const created = await http('POST', '/departments', { token, body: { name } });
      assert.equal(created.status, 200, created.text);
    }
    // The primary drops the LTX file of the first transaction node2 missed: node2 can no
    // longer replay what it missed, only take the whole database.
    const ltxDir = join(env.cluster.dir, 'node1', 'data', 'dbs', 'enroll.db', 'ltx');
    const keeps = (txid: number) =>
      readdirSync(ltxDir).some((file) => {
        const m = /^([0-9a-f]{16})-([0-9a-f]{16})\.ltx$/.exec(file);
        return m !== null && parseInt(m[1]!, 16) <= txid && txid <= parseInt(m[2]!, 16);
      });
    assert.ok(keeps(at + 1), `the primary has TXID ${at + 1} in ${ltxDir} at first`);
    await waitUntil(() => !keeps(at + 1), 20_000, { what: `the primary to drop the LTX file of TXID ${at + 1}` });

    // LiteFS logs `snapshot received for \"enroll.db\"` (its quotes escaped) for each one.
    const snapshots = () => readFileSync(join(env.cluster.logsDir, 'node2.log'), 'utf8').split('snapshot received for \\"enroll.db\\"').length - 1;
    const snapshotsBefore = snapshots();
    const restored = Date.now();
    proxy.restore();
    await waitUntil(async () => {
      const listed = await departmentsOn(2, token);
      return names.every((name) => listed.includes(name));
    }, 30_000, { what: 'node2 to have the departments made while it was cut off' });
    t.diagnostic(`node2 had the snapshot's data ${Date.now() - restored} ms after the proxy passed again`);
    assert.equal(snapshots(), snapshotsBefore + 1, "node2's LiteFS took a snapshot of enroll.db");
    assert.deepEqual(await departmentsOn(2, token), await departmentsOn(1, token), "node2's enrollment service answers the primary's list");
    await waitUntil(async () => (await txidOf2(2)) === (await txidOf2(1)), 10_000, { what: "node2's TXID to be the primary's" });
    const copy = new Database(join(env.cluster.node(2).mount, 'enroll.db'), { readonly: true, fileMustExist: true });
    try {
      assert.equal(copy.pragma('integrity_check', { simple: true }), 'ok', "node2's enroll.db passes the integrity check");
    } finally {
      copy.close();
    }
    await waitUntil(async () => (await rolesOf(2)).every((s) => s === 'SERVING'), 15_000, { what: 'node2 to offer reads again' });
  });

  test('with the primary stopped, both replicas withdraw from reads and reads go on; with it back, they offer reads again', async () => {
    await waitUntil(async () => (await replicaRoles()).every((s) => s === 'SERVING'), 15_000, { what: 'current replicas to offer reads' });
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
    // No node is current, so the JWKS would come from the replicas (auth_jwks).
    await waitUntil(async () => !(await env.cluster.envoyHealthy(['auth_jwks_current'], 3)), 15_000, { what: 'Envoy to find no current JWKS' });
    assert.ok(await env.cluster.envoyHealthy(['auth_jwks'], 2), "node2 still serves the JWKS, for Envoy's fallback");
    const primaryDown = await statusReport();
    assert.equal(primaryDown.code, 1);
    for (const problem of ['no node is the LiteFS primary: writes are unavailable', 'node1: LiteFS does not answer', 'node1 enroll: does not answer']) {
      assert.ok(primaryDown.report.problems.includes(problem), `status says "${problem}": ${primaryDown.report.problems.join('; ')}`);
    }
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

/**
 * The consistency contract on the real cluster: writes accepted on any node,
 * forwarded by replicas, answered with their TXID, readable at once on the
 * node that took them; replicas that restart catch up; with the primary
 * down, writes fail fast with UNAVAILABLE and reads keep working.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Status } from '../../lib/errors.js';
import { useCluster, waitUntil, type NodeNumber } from '../harness/cluster.js';
import { authClient, call, directoryClient, http, txidOf, uniqueName, type UnaryClient } from '../support/clients.js';
import { loginHttp } from '../support/school.js';

describe('replication and failover on the real cluster', () => {
  const env = useCluster();

  function clients(): { auth: Record<NodeNumber, UnaryClient>; dir: Record<NodeNumber, UnaryClient>; close(): void } {
    const auth = {} as Record<NodeNumber, UnaryClient>;
    const dir = {} as Record<NodeNumber, UnaryClient>;
    for (const n of [1, 2, 3] as const) {
      auth[n] = authClient(env.cluster.node(n).authGrpc);
      dir[n] = directoryClient(env.cluster.node(n).authGrpc);
    }
    return {
      auth,
      dir,
      close() {
        for (const c of [...Object.values(auth), ...Object.values(dir)]) c.close();
      },
    };
  }

  /** Whether `username` is among the users node n lists (a read on that node alone). */
  async function nodeHasUser(dir: UnaryClient, username: string, minTxid?: string): Promise<boolean> {
    let after = 0;
    for (;;) {
      const page = await call(dir, 'ListUsers', { after_id: after, page_size: 1000 }, minTxid ? { metadata: { 'x-min-txid': minTxid } } : {});
      if (page.error) throw page.error;
      const users = page.response.users as Array<{ user_id: number; username: string }>;
      if (users.some((u) => u.username === username)) return true;
      if (users.length === 0) return false;
      after = users[users.length - 1]!.user_id;
    }
  }

  async function register(client: UnaryClient): Promise<{ username: string; txid: string }> {
    const username = uniqueName('repl');
    const answer = await call(client, 'Register', { username, email: `${username}@example.edu` });
    assert.equal(answer.error, undefined, answer.error?.details);
    const txid = txidOf(answer.headers);
    assert.ok(txid && /^\d+$/.test(txid), `the answer carries its TXID (got ${txid})`);
    return { username, txid };
  }

  describe('writes on a replica', () => {
    test('are forwarded, answered with a TXID, readable at once there and soon on every node', async () => {
      const c = clients();
      try {
        for (const n of [2, 3] as const) {
          const { username, txid } = await register(c.auth[n]);
          assert.ok(await nodeHasUser(c.dir[n], username), `node${n} reads its own write at once`);
          for (const other of [1, 2, 3] as const) {
            assert.ok(await nodeHasUser(c.dir[other], username, txid), `node${other} has it once at TXID ${txid}`);
          }
        }
      } finally {
        c.close();
      }
    });

    test('errors from the primary are relayed with their status', async () => {
      const c = clients();
      try {
        const { username } = await register(c.auth[1]);
        const dup = await call(c.auth[2], 'Register', { username, email: `second-${username}@example.edu` });
        assert.equal(dup.error?.code, Status.ALREADY_EXISTS);
        const bad = await call(c.auth[3], 'Register', { username: '', email: 'x@example.edu' });
        assert.equal(bad.error?.code, Status.INVALID_ARGUMENT);
        assert.match(bad.error!.details, /username/);
      } finally {
        c.close();
      }
    });

    test('a read that asks for a TXID this node cannot reach is refused with UNAVAILABLE', async () => {
      const c = clients();
      try {
        const far = await call(c.dir[2], 'ListUsers', { after_id: 0 }, { metadata: { 'x-min-txid': '999999999' } });
        assert.equal(far.error?.code, Status.UNAVAILABLE);
        const malformed = await call(c.dir[2], 'ListUsers', { after_id: 0 }, { metadata: { 'x-min-txid': 'soon' } });
        assert.equal(malformed.error?.code, Status.INVALID_ARGUMENT);
      } finally {
        c.close();
      }
    });
  });

  describe('Envoy routes by role', () => {
    /** Request-log lines of `method` per node: [node1, node2, node3]. */
    function served(method: string): Array<Array<{ forwarded?: boolean }>> {
      return ([1, 2, 3] as const).map((n) =>
        env.cluster
          .logTail(`node${n}`, 100_000)
          .split('\n')
          .filter((line) => line.includes(`"method":"${method}"`))
          .map((line) => JSON.parse(line.slice(line.indexOf('{'))) as { forwarded?: boolean }),
      );
    }

    test('writes go straight to the primary, reads to the replicas', async () => {
      const token = await loginHttp(env.cluster.registrar);
      for (let i = 0; i < 6; i++) {
        const created = await http('POST', '/departments', { token, body: { name: uniqueName('Routing') } });
        assert.equal(created.status, 200, created.text);
        const listed = await http('GET', '/departments', { token });
        assert.equal(listed.status, 200, listed.text);
      }
      const writes = served('/enroll.v1.EnrollService/CreateDepartment');
      assert.equal(writes[0]!.length, 6, 'node1 (the primary) took every write');
      assert.deepEqual([writes[1]!.length, writes[2]!.length], [0, 0], 'no write went through a replica');
      const reads = served('/enroll.v1.EnrollService/ListDepartments');
      assert.equal(reads[0]!.length, 0, 'no read reached the primary');
      assert.equal(reads[1]!.length + reads[2]!.length, 6);
      assert.ok(reads[1]!.length > 0 && reads[2]!.length > 0, `reads are balanced over both replicas (${reads[1]!.length} / ${reads[2]!.length})`);
    });
  });

  describe('node failures', () => {
    test('a stopped replica catches up when it starts again and serves the same data', async () => {
      await env.cluster.stopNode(3);
      // Both services drained and closed their databases, although SIGTERM reached them
      // twice (the harness signals the process group, and the node supervisor passes it on).
      const stopped = env.cluster
        .logTail('node3', 60)
        .split('\n')
        .filter((line) => line.includes('"msg":"stopped"'))
        .map((line) => (JSON.parse(line.slice(line.indexOf('{'))) as { service: string }).service);
      assert.deepEqual(stopped.sort(), ['auth', 'enroll'], 'each service on node3 logs "stopped"');
      let c = clients();
      const written: Array<{ username: string; txid: string }> = [];
      try {
        for (let i = 0; i < 5; i++) written.push(await register(c.auth[i % 2 === 0 ? 1 : 2]));
      } finally {
        c.close();
      }
      await env.cluster.startNode(3);
      c = clients();
      try {
        const last = written.map((w) => BigInt(w.txid)).reduce((a, b) => (a > b ? a : b));
        await waitUntil(async () => (await call(c.dir[3], 'ListUsers', { after_id: 0 }, { metadata: { 'x-min-txid': last.toString() } })).error === undefined, 30_000, { what: 'node3 to catch up' });
        for (const w of written) assert.ok(await nodeHasUser(c.dir[3], w.username), `node3 has ${w.username}`);
      } finally {
        c.close();
      }
    });

    test('with the primary down, writes fail fast with UNAVAILABLE and reads keep working', async () => {
      let c = clients();
      const before = await register(c.auth[2]);
      const token = await loginHttp(env.cluster.registrar); // logging in needs the primary
      c.close();
      await env.cluster.stopNode(1);
      c = clients();
      try {
        // Through Envoy too: reads are served by the replicas, writes get 503 (UNAVAILABLE).
        const read = await http('GET', '/departments', { token });
        assert.equal(read.status, 200, read.text);
        const write = await http('POST', '/departments', { token, body: { name: uniqueName('Down') } });
        assert.equal(write.status, 503, write.text);
        assert.doesNotMatch(write.text, /at .*\.js|SQLITE|stack/i);
        for (const n of [2, 3] as const) {
          const started = Date.now();
          const answer = await call(c.auth[n], 'Register', { username: uniqueName('down'), email: `${uniqueName('down')}@example.edu` });
          const ms = Date.now() - started;
          assert.equal(answer.error?.code, Status.UNAVAILABLE, `node${n}: ${answer.error?.details}`);
          assert.match(answer.error!.details, /primary/);
          assert.ok(ms < 12_000, `failed within a bounded time (${ms} ms)`);
          assert.ok(await nodeHasUser(c.dir[n], before.username), `node${n} still serves reads`);
        }
      } finally {
        c.close();
      }
      await env.cluster.startNode(1);
      c = clients();
      try {
        await waitUntil(async () => (await call(c.auth[2], 'Register', { username: uniqueName('back'), email: `${uniqueName('back')}@example.edu` })).error === undefined, 60_000, { what: 'writes to work again after the primary returns' });
      } finally {
        c.close();
      }
    });
  });
});

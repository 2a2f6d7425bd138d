/**
 * The consistency contract on the real cluster: writes accepted on any node,
 * forwarded by replicas, answered with their TXID, readable at once on the
 * node that took them, also while other reads keep that node busy; replicas
 * that restart catch up; with the primary down, writes fail fast with
 * UNAVAILABLE and reads keep working.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Status } from '../../lib/errors.js';
import { useCluster, waitUntil, type NodeNumber } from '../harness/cluster.js';
import { authClient, call, directoryClient, enrollClient, http, txidOf, uniqueName, type UnaryClient } from '../support/clients.js';
import { metricSample, scrape } from '../../lib/prometheus-text.js';
import { createSchool, loginHttp, person, section } from '../support/school.js';

describe('replication and failover on the real cluster', () => {
  const env = useCluster();

  function clients(): { auth: Record<NodeNumber, UnaryClient>; dir: Record<NodeNumber, UnaryClient>; close(): void } {
    const auth = {} as Record<NodeNumber, UnaryClient>;
    const dir = {} as Record<NodeNumber, UnaryClient>;
    for (const n of [1, 2, 3] as const) {
      auth[n] = authClient(env.cluster.node(n).authGrpc);
      dir[n] = directoryClient(env.cluster.node(n).authDirectory);
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

  async function registerOn(client: UnaryClient): Promise<{ username: string; txid: string }> {
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
          const { username, txid } = await registerOn(c.auth[n]);
          assert.ok(await nodeHasUser(c.dir[n], username), `node${n} reads its own write at once`);
          // The node's request log names the forwarded write and how long it waited for its TXID.
          const logged = env.cluster
            .logEntries(`node${n}`)
            .filter((e) => e.method === '/auth.v1.AuthService/Register' && e.txid === txid);
          assert.equal(logged.length, 1, `node${n} logged the write once`);
          assert.equal(logged[0]!.forwarded, true);
          assert.equal(typeof logged[0]!.wait_ms, 'number', 'the log line carries the replication wait');
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
        const { username } = await registerOn(c.auth[1]);
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

  describe('reads on a busy replica (one shared snapshot per event-loop turn)', () => {
    test('still see the write they waited for (x-min-txid) and a write forwarded through them, in the memoised catalogue too (and so does the primary)', async () => {
      const school = await createSchool(env.cluster.registrar);
      const sid = await section(school);
      const student = await person('student', school.registrar.token);
      const primary = enrollClient(env.cluster.node(1).enrollGrpc);
      const replica = enrollClient(env.cluster.node(2).enrollGrpc);
      // Other callers keep node2 reading, so a snapshot is open in most turns, and
      // keep the catalogue's memoised answers in use on node2 and the primary.
      const busy = enrollClient(env.cluster.node(2).enrollGrpc);
      const busyPrimary = enrollClient(env.cluster.node(1).enrollGrpc);
      let reading = true;
      let busyReads = 0;
      const readers = Array.from({ length: 8 }, async (_, i) => {
        while (reading) {
          const page = await call(i < 6 ? busy : busyPrimary, 'ListSections', { page_size: 50 }, { token: student.token });
          assert.equal(page.error, undefined, page.error?.details);
          busyReads += 1;
        }
      });
      const statusOnReplica = async (metadata?: Record<string, string>): Promise<string | undefined> => {
        const listed = await call(replica, 'ListUserEnrollments', { user_id: student.id }, { token: student.token, metadata });
        assert.equal(listed.error, undefined, listed.error?.details);
        return (listed.response.enrollments as Array<{ section_id: number; status: string }>).find((e) => e.section_id === sid)?.status;
      };
      // The catalogue is memoised per version of the data (lib/read-memo.ts): its counts must move with every write too.
      const seatsTaken = async (on: typeof replica, metadata?: Record<string, string>): Promise<number | undefined> => {
        const page = await call(on, 'ListSections', { course_id: school.courseId }, { token: student.token, metadata });
        assert.equal(page.error, undefined, page.error?.details);
        return (page.response.sections as Array<{ id: number; enrolled_count: number }>).find((s) => s.id === sid)?.enrolled_count;
      };
      try {
        for (let round = 0; round < 25; round++) {
          const enrolled = await call(primary, 'CreateEnrollment', { user_id: student.id, section_id: sid }, { token: student.token });
          assert.equal(enrolled.error, undefined, enrolled.error?.details);
          const txid = txidOf(enrolled.headers);
          assert.ok(txid, 'the primary answers with the TXID');
          assert.equal(await statusOnReplica({ 'x-min-txid': txid }), 'enrolled', `round ${round}: a read with x-min-txid ${txid}`);
          assert.equal(await seatsTaken(primary), 1, `round ${round}: the primary's catalogue right after its write`);
          assert.equal(await seatsTaken(replica, { 'x-min-txid': txid }), 1, `round ${round}: the catalogue with x-min-txid ${txid}`);
          const dropped = await call(replica, 'DropUserEnrollment', { user_id: student.id, section_id: sid }, { token: student.token });
          assert.equal(dropped.error, undefined, dropped.error?.details);
          assert.equal(await statusOnReplica(), 'dropped', `round ${round}: a read right after a write forwarded by this node`);
          assert.equal(await seatsTaken(replica), 0, `round ${round}: the catalogue right after a write forwarded by this node`);
          assert.equal(await seatsTaken(primary), 0, `round ${round}: the primary's catalogue after the forwarded write`);
        }
      } finally {
        reading = false;
        await Promise.allSettled(readers);
        for (const c of [primary, replica, busy, busyPrimary]) c.close();
      }
      await Promise.all(readers); // a failed background read fails the test too
      assert.ok(busyReads >= 50, `the replica was kept busy (${busyReads} other reads)`);
    });
  });

  describe('Envoy routes by role', () => {
    /** Request-log lines of `method` per node: [node1, node2, node3]. */
    function served(method: string): Array<Array<Record<string, unknown>>> {
      return ([1, 2, 3] as const).map((n) => env.cluster.logEntries(`node${n}`).filter((e) => e.method === method));
    }

    test('writes go straight to the primary, reads to the replicas', async () => {
      const token = await loginHttp(env.cluster.registrar);
      // Other tests of this file call these methods too: count only this test's calls.
      const count = (method: string) => served(method).map((lines) => lines.length);
      const writesBefore = count('/enroll.v1.EnrollService/CreateDepartment');
      const readsBefore = count('/enroll.v1.EnrollService/ListDepartments');
      for (let i = 0; i < 6; i++) {
        const created = await http('POST', '/departments', { token, body: { name: uniqueName('Routing') } });
        assert.equal(created.status, 200, created.text);
        const listed = await http('GET', '/departments', { token });
        assert.equal(listed.status, 200, listed.text);
      }
      const writes = count('/enroll.v1.EnrollService/CreateDepartment').map((n, i) => n - writesBefore[i]!);
      assert.equal(writes[0], 6, 'node1 (the primary) took every write');
      assert.deepEqual([writes[1], writes[2]], [0, 0], 'no write went through a replica');
      const reads = count('/enroll.v1.EnrollService/ListDepartments').map((n, i) => n - readsBefore[i]!);
      assert.equal(reads[0], 0, 'no read reached the primary');
      assert.equal(reads[1]! + reads[2]!, 6);
      assert.ok(reads[1]! > 0 && reads[2]! > 0, `reads are balanced over both replicas (${reads[1]} / ${reads[2]})`);
    });
  });

  describe('metrics', () => {
    /** Every service's metrics, scraped at once: auth[n], enroll[n]. */
    async function scrapeAll(): Promise<{ auth: Record<NodeNumber, string>; enroll: Record<NodeNumber, string> }> {
      const auth = {} as Record<NodeNumber, string>;
      const enroll = {} as Record<NodeNumber, string>;
      await Promise.all(([1, 2, 3] as const).flatMap((n) => [
        scrape(env.cluster.node(n).authMetrics).then((t) => void (auth[n] = t)),
        scrape(env.cluster.node(n).enrollMetrics).then((t) => void (enroll[n] = t)),
      ]));
      return { auth, enroll };
    }

    test('every service counts its calls, the primary its commits, a replica the writes it forwarded; roles and TXIDs as LiteFS has them', async () => {
      const c = clients();
      try {
        const own = (service: string, n: NodeNumber) => ({ service, node: `node${n}` });
        const register = { grpc_service: 'auth.v1.AuthService', grpc_method: 'Register' };
        const value = (text: string, name: string, labels: Record<string, string>) => metricSample(text, name, labels) ?? 0;
        const before = await scrapeAll();
        // Two writes on node2: one forwarded and committed, one forwarded and refused by the primary.
        const { username, txid } = await registerOn(c.auth[2]);
        const dup = await call(c.auth[2], 'Register', { username, email: `again-${username}@example.edu` });
        assert.equal(dup.error?.code, Status.ALREADY_EXISTS);
        const after = await scrapeAll();
        const grew = (which: 'auth' | 'enroll', n: NodeNumber, name: string, labels: Record<string, string>) =>
          value(after[which][n], name, { ...labels, ...own(which, n) }) - value(before[which][n], name, { ...labels, ...own(which, n) });

        for (const n of [1, 2] as const) {
          assert.equal(grew('auth', n, 'grpc_server_handled_total', { ...register, grpc_code: 'OK' }), 1, `node${n} answered the write OK once`);
          assert.equal(grew('auth', n, 'grpc_server_handled_total', { ...register, grpc_code: 'ALREADY_EXISTS' }), 1, `node${n} refused the second`);
          assert.equal(grew('auth', n, 'grpc_server_handling_seconds_count', register), 2);
        }
        assert.equal(grew('auth', 3, 'grpc_server_handling_seconds_count', register), 0, 'node3 saw neither');
        assert.equal(grew('auth', 2, 'course_forwarded_writes_total', { grpc_code: 'OK' }), 1);
        assert.equal(grew('auth', 2, 'course_forwarded_writes_total', { grpc_code: 'ALREADY_EXISTS' }), 1);
        assert.equal(grew('auth', 2, 'course_forward_wait_seconds_count', {}), 1, 'the committed write waited for its TXID on node2');
        assert.equal(grew('auth', 1, 'course_forwarded_writes_total', { grpc_code: 'OK' }), 0, 'the primary forwards nothing');
        // The refused write changed nothing: alone in its batch, that batch wrote nothing to commit.
        assert.ok(grew('auth', 1, 'course_commit_writes_count', {}) >= 1, 'the primary counted the commit');
        assert.ok(grew('auth', 1, 'course_commit_writes_sum', {}) >= 1, 'and the write it carried');
        assert.equal(value(after.auth[2], 'course_commit_writes_count', own('auth', 2)), 0, 'a replica commits nothing');

        for (const n of [1, 2, 3] as const) {
          for (const service of ['auth', 'enroll'] as const) {
            const text = after[service][n];
            assert.equal(value(text, 'course_role', { role: 'primary', ...own(service, n) }), n === 1 ? 1 : 0, `${service}@node${n} role`);
            assert.equal(value(text, 'course_role', { role: 'replica', ...own(service, n) }), n === 1 ? 0 : 1, `${service}@node${n} role`);
            assert.ok(value(text, 'process_resident_memory_bytes', own(service, n)) > 0, `${service}@node${n} process metrics`);
          }
          assert.ok(value(after.auth[n], 'course_txid', { db: 'auth.db', ...own('auth', n) }) >= (n === 3 ? 0 : Number(txid)), `auth@node${n} is at the write's TXID`);
          assert.ok(value(after.enroll[n], 'course_txid', { db: 'enroll.db', ...own('enroll', n) }) > 0);
        }
        // The enrollment service's catalogue memo is counted (READ_MEMO is on by default).
        assert.notEqual(metricSample(after.enroll[2], 'course_catalogue_memo_reads_total', { answer: 'miss', ...own('enroll', 2) }), undefined);
        // Methods, codes and roles only: no user's name appears.
        for (const text of [...Object.values(after.auth), ...Object.values(after.enroll)]) assert.ok(!text.includes(username));
      } finally {
        c.close();
      }
    });
    test("every node times how soon each commit became visible there, and all agree on the newest commit's timestamp", async () => {
      const c = clients();
      try {
        const own = (n: NodeNumber) => ({ db: 'auth.db', service: 'auth', node: `node${n}` });
        const visible = (text: string, n: NodeNumber, part: 'count' | 'sum') => metricSample(text, `course_commit_visible_seconds_${part}`, own(n)) ?? 0;
        const before = await scrapeAll();
        const started = Date.now();
        const { txid } = await registerOn(c.auth[1]);
        // Once every node has the write (and nothing newer moved one of them meanwhile), each
        // has LiteFS's timestamp of the same newest commit.
        const agreed = (await waitUntil(async () => {
          const { auth } = await scrapeAll();
          const txids = ([1, 2, 3] as const).map((n) => metricSample(auth[n], 'course_txid', own(n)));
          const stamps = ([1, 2, 3] as const).map((n) => metricSample(auth[n], 'course_commit_timestamp_seconds', own(n)));
          const same = txids.every((t) => t !== undefined && t >= Number(txid) && t === txids[0]) && stamps.every((s) => s !== undefined && s === stamps[0]);
          return same ? { auth, stamp: stamps[0]! } : undefined;
        }, 10_000, { what: 'every node at the same TXID with the same commit timestamp' }))!;
        assert.ok(agreed.stamp * 1000 >= started - 1000 && agreed.stamp * 1000 <= Date.now() + 1000, `the newest commit's timestamp ${agreed.stamp} is about now`);
        for (const n of [1, 2, 3] as const) {
          const commits = visible(agreed.auth[n], n, 'count') - visible(before.auth[n], n, 'count');
          assert.ok(commits >= 1, `node${n} timed the commit (${commits})`);
          const mean = (visible(agreed.auth[n], n, 'sum') - visible(before.auth[n], n, 'sum')) / commits;
          assert.ok(mean >= 0 && mean < 2, `node${n}: a commit became visible ${mean} s after its timestamp, on average`);
        }
      } finally {
        c.close();
      }
    });
  });

  describe('node failures', () => {
    test('a stopped replica catches up when it starts again and serves the same data', async () => {
      await env.cluster.stopNode(3);
      // Both services drained and closed their databases, although SIGTERM reached them
      // twice (the harness signals the process group, and the node supervisor passes it on).
      const stopped = env.cluster
        .logEntries('node3')
        .filter((e) => e.msg === 'stopped')
        .map((e) => String(e.service));
      assert.deepEqual(stopped.sort(), ['auth', 'enroll'], 'each service on node3 logs "stopped"');
      let c = clients();
      const written: Array<{ username: string; txid: string }> = [];
      try {
        for (let i = 0; i < 5; i++) written.push(await registerOn(c.auth[i % 2 === 0 ? 1 : 2]));
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
      const before = await registerOn(c.auth[2]);
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

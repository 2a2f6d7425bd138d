/**
 * Crashes on the real cluster.
 *
 * The primary crashes in the middle of group-committed writes: node1 (LiteFS,
 * the supervisor and both services) is killed with SIGKILL while 32 enrolls
 * are in flight, then started again (when a kill lands while every call sent
 * was already answered, node1 is started and killed again, up to three rounds,
 * so that one round does cut writes off). Every enroll that was answered OK
 * must be on every node afterwards; each one that was cut off is either wholly
 * there or wholly absent (the section's trigger-maintained count matches its
 * rows); the database files pass SQLite's integrity check; and writes work
 * again, straight on node1 and through Envoy.
 *
 * Every enroll carries an idempotency key, and once node1 is back each one
 * that was cut off is sent again with its key, as a client that lost its
 * answer would: each is then answered OK and done exactly once, replayed from
 * its stored result exactly when it had committed before the kill.
 *
 * A process kill keeps what the OS already has, so this proves that answers
 * wait for COMMIT and that a half-done batch rolls back, not that the fsyncs
 * reach the disk (that would need a power cut).
 *
 * While node1 restarts, Envoy retries a write through it that carries an
 * idempotency key until the primary answers, and answers one without a key
 * 503 at once.
 *
 * A replica crashes while it applies a stream of commits: node2 is killed the
 * same way, the writes go on on the primary, and once node2 is back its copy
 * passes the integrity check and holds what the primary holds.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { Status } from '../../lib/errors.js';
import { useCluster, type Cluster, type NodeNumber } from '../harness/cluster.js';
import { call, enrollClient, http, txidOf, type UnaryClient } from '../support/clients.js';
import { course, createSchool, manyStudents, section, type Person } from '../support/school.js';

const STUDENTS = 60;
const SECTIONS = 5;
const IN_FLIGHT = 32;
/** Kill node1 this long (at random, up to) after this many enrolls were answered OK. */
const KILL_AFTER = 60;
const KILL_JITTER_MS = 8;
/** Kill rounds before giving up on cutting off a write in flight. */
const KILL_ROUNDS = 3;

interface Attempt {
  student: Person;
  sectionId: number;
  outcome: 'ok' | 'cut off';
  txid?: bigint;
  code?: number;
}

/** The idempotency key of one (student, section) enroll: the same each time it is sent. */
function keyed(student: Person, sectionId: number): Record<string, string> {
  return { 'idempotency-key': `crash-enroll-${student.id}-${sectionId}` };
}

/** Kills node n at a random moment within KILL_JITTER_MS, so mostly while a batch runs or commits. */
function killSoon(cluster: Cluster, n: NodeNumber): Promise<void> {
  return new Promise<void>((resolve) => setTimeout(resolve, Math.random() * KILL_JITTER_MS)).then(() => cluster.killNode(n));
}

/**
 * Sends `pairs` as enrolls straight to node1, IN_FLIGHT at a time, kills node1
 * soon after KILL_AFTER were answered OK, and stops once it is dead. Returns
 * every attempt made, in order of answer.
 */
async function writeUntilKilled(cluster: Cluster, pairs: Array<{ student: Person; sectionId: number }>): Promise<Attempt[]> {
  const attempts: Attempt[] = [];
  let acknowledged = 0;
  let killed: Promise<void> | undefined;
  let dead = false;
  const primary = enrollClient(cluster.node(1).enrollGrpc);
  try {
    let next = 0;
    const worker = async () => {
      while (next < pairs.length && !dead) {
        const { student, sectionId } = pairs[next++]!;
        const r = await call(primary, 'CreateEnrollment', { user_id: student.id, section_id: sectionId }, { token: student.token, metadata: keyed(student, sectionId) });
        if (r.error === undefined) {
          assert.equal(r.response.status, 'enrolled');
          attempts.push({ student, sectionId, outcome: 'ok', txid: BigInt(txidOf(r.headers)!) });
          acknowledged += 1;
          if (acknowledged === KILL_AFTER) {
            killed = killSoon(cluster, 1).then(() => {
              dead = true;
            });
          }
        } else {
          attempts.push({ student, sectionId, outcome: 'cut off', code: r.error.code });
        }
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  } finally {
    primary.close();
  }
  assert.ok(killed, `node1 was killed (only ${acknowledged} enrolls were answered OK)`);
  await killed;
  return attempts;
}

/** Node n's enroll.db, read straight from its mount, passes SQLite's integrity check. */
function assertIntact(cluster: Cluster, n: NodeNumber): void {
  const db = new Database(join(cluster.node(n).mount, 'enroll.db'), { readonly: true, fileMustExist: true });
  try {
    assert.equal(db.pragma('integrity_check', { simple: true }), 'ok', `node${n}: enroll.db passes the integrity check`);
  } finally {
    db.close();
  }
}

describe('crashes', () => {
  const env = useCluster({ env: { WRITE_MODE: 'batch' } });

  test('a primary killed during group commit keeps every acknowledged write, and no half of any other', async (t) => {
    const school = await createSchool(env.cluster.registrar);
    const sections: number[] = [];
    // Each of a course of its own: a student takes a course in one section.
    for (let i = 0; i < SECTIONS; i++) sections.push(await section(school, { course_id: (await course(school)).id, capacity: STUDENTS, waitlist_capacity: 0 }));
    const spare = await section(school, { capacity: 5, waitlist_capacity: 0 });
    const students = await manyStudents(STUDENTS, env.cluster.node(1).authGrpc);

    // Every (student, section) pair once, straight to the primary, IN_FLIGHT at a time.
    const pairs = sections.flatMap((sectionId) => students.map((student) => ({ student, sectionId })));
    const attempts: Attempt[] = [];
    let cursor = 0;
    let cutOff: Attempt[] = [];
    for (let round = 1; round <= KILL_ROUNDS && cutOff.length === 0; round++) {
      if (round > 1) {
        // The kill landed when every call sent had been answered (a slow client had not sent
        // the next ones yet): that round proves nothing about cut-off writes, so again.
        t.diagnostic(`round ${round - 1}: the kill cut off nothing; node1 starts again for another round`);
        await env.cluster.startNode(1);
      }
      const made = await writeUntilKilled(env.cluster, pairs.slice(cursor));
      cursor += made.length;
      attempts.push(...made);
      cutOff = made.filter((a) => a.outcome === 'cut off');
    }
    const acknowledged = attempts.filter((a) => a.outcome === 'ok').length;
    t.diagnostic(`answered OK before the kill: ${acknowledged}; cut off: ${cutOff.length} (codes ${[...new Set(cutOff.map((a) => a.code))].join(', ')})`);
    assert.ok(cutOff.length > 0, `the kill cut off writes in flight in one of ${KILL_ROUNDS} rounds`);
    // Anything but UNAVAILABLE would be an answer from a live primary: a refusal here is a bug.
    for (const a of cutOff) assert.equal(a.code, Status.UNAVAILABLE, `a cut-off enroll got code ${a.code}`);

    await env.cluster.startNode(1);
    const maxTxid = attempts.reduce((m, a) => (a.txid !== undefined && a.txid > m ? a.txid : m), 0n);
    const acked = attempts.filter((a) => a.outcome === 'ok');
    let survivedCutOff = 0;
    for (const n of [1, 2, 3] as const) {
      const client: UnaryClient = enrollClient(env.cluster.node(n).enrollGrpc);
      const opts = { token: school.registrar.token, metadata: { 'x-min-txid': maxTxid.toString() } };
      try {
        // A replica may still be reconnecting to the restarted primary to catch up.
        await env.cluster.waitUntil(async () => (await call(client, 'GetSection', { section_id: sections[0] }, opts)).error === undefined, 30_000, {
          what: `node${n} to reach TXID ${maxTxid}`,
        });
        for (const sectionId of sections) {
          const list = await call(client, 'ListSectionEnrollments', { section_id: sectionId, status: 'enrolled', page_size: 1000 }, opts);
          assert.equal(list.error, undefined, `node${n}: ${list.error?.details}`);
          const ids: number[] = list.response.enrollments.map((e: { user_id: number }) => e.user_id);
          assert.equal(new Set(ids).size, ids.length, `node${n}: nobody is enrolled twice in section ${sectionId}`);
          const expected = acked.filter((a) => a.sectionId === sectionId).map((a) => a.student.id);
          for (const uid of expected) assert.ok(ids.includes(uid), `node${n}: acknowledged enrollment of user ${uid} in section ${sectionId} survived the crash`);
          const got = await call(client, 'GetSection', { section_id: sectionId }, opts);
          assert.equal(got.error, undefined, `node${n}: ${got.error?.details}`);
          assert.equal(got.response.enrolled_count, ids.length, `node${n}: section ${sectionId}'s count matches its rows`);
          if (n === 1) survivedCutOff += ids.filter((uid) => !expected.includes(uid)).length;
        }
      } finally {
        client.close();
      }
    }
    t.diagnostic(`cut-off enrolls that had committed: ${survivedCutOff} of ${cutOff.length}`);

    for (const n of [1, 2, 3] as const) assertIntact(env.cluster, n);

    // Each cut-off enroll sent again with its key: done exactly once, whether or not it had committed.
    const retry = enrollClient(env.cluster.node(1).enrollGrpc);
    try {
      let replayed = 0;
      for (const a of cutOff) {
        const r = await call(retry, 'CreateEnrollment', { user_id: a.student.id, section_id: a.sectionId }, { token: a.student.token, metadata: keyed(a.student, a.sectionId) });
        assert.equal(r.error, undefined, `the cut-off enroll of user ${a.student.id} sent again: ${r.error?.details}`);
        assert.equal(r.response.status, 'enrolled');
        if (r.headers.get('idempotent-replayed')[0] === 'true') replayed += 1;
      }
      assert.equal(replayed, survivedCutOff, 'exactly the cut-off enrolls that had committed are answered from their stored result');
      for (const sectionId of sections) {
        const list = await call(retry, 'ListSectionEnrollments', { section_id: sectionId, status: 'enrolled', page_size: 1000 }, { token: school.registrar.token });
        const ids: number[] = list.response.enrollments.map((e: { user_id: number }) => e.user_id).sort((x: number, y: number) => x - y);
        const sent = attempts.filter((a) => a.sectionId === sectionId).map((a) => a.student.id).sort((x, y) => x - y);
        assert.deepEqual(ids, sent, `section ${sectionId}: every enroll sent is there once, the retried ones included`);
      }
    } finally {
      retry.close();
    }

    // Writes work again, straight on the restarted primary and through Envoy.
    const again = enrollClient(env.cluster.node(1).enrollGrpc);
    try {
      const r = await call(again, 'CreateEnrollment', { user_id: students[0]!.id, section_id: spare }, { token: students[0]!.token });
      assert.equal(r.error, undefined, r.error?.details);
      assert.equal(r.response.status, 'enrolled');
    } finally {
      again.close();
    }
    const viaEnvoy = await env.cluster.waitUntil(async () => {
      const r = await http('POST', `/users/${students[1]!.id}/enrollments`, { token: students[1]!.token, body: { section_id: spare } });
      return r.status === 200 ? r : undefined;
    }, 30_000, { what: 'a write through Envoy to succeed after the restart' });
    assert.equal(viaEnvoy?.body.status, 'enrolled');
  });

  test('a replica killed while it applies commits comes back with an intact, identical copy', async (t) => {
    // A failed test before this one may have left node1 down.
    for (const n of [1, 2, 3] as const) if (!env.cluster.isRunning(n)) await env.cluster.startNode(n);
    const school = await createSchool(env.cluster.registrar);
    const sectionId = await section(school, { capacity: STUDENTS, waitlist_capacity: 0 });
    const students = await manyStudents(STUDENTS, env.cluster.node(1).authGrpc);

    // Small group commits, one after another, so node2 is applying most of the time.
    const primary = enrollClient(env.cluster.node(1).enrollGrpc);
    let maxTxid = 0n;
    let next = 0;
    let killed: Promise<void> | undefined;
    try {
      const worker = async () => {
        while (next < students.length) {
          const student = students[next++]!;
          const r = await call(primary, 'CreateEnrollment', { user_id: student.id, section_id: sectionId }, { token: student.token });
          assert.equal(r.error, undefined, r.error?.details);
          const txid = BigInt(txidOf(r.headers)!);
          if (txid > maxTxid) maxTxid = txid;
          if (next === STUDENTS / 2 && killed === undefined) {
            killed = killSoon(env.cluster, 2);
          }
        }
      };
      await Promise.all(Array.from({ length: 4 }, worker));
    } finally {
      primary.close();
    }
    assert.ok(killed, 'node2 was killed');
    await killed;

    await env.cluster.startNode(2);
    const opts = { token: school.registrar.token, metadata: { 'x-min-txid': maxTxid.toString() } };
    const lists = new Map<number, number[]>();
    for (const n of [1, 2] as const) {
      const client = enrollClient(env.cluster.node(n).enrollGrpc);
      try {
        await env.cluster.waitUntil(async () => (await call(client, 'GetSection', { section_id: sectionId }, opts)).error === undefined, 30_000, {
          what: `node${n} to reach TXID ${maxTxid}`,
        });
        const list = await call(client, 'ListSectionEnrollments', { section_id: sectionId, status: 'enrolled', page_size: 1000 }, opts);
        assert.equal(list.error, undefined, `node${n}: ${list.error?.details}`);
        lists.set(n, list.response.enrollments.map((e: { user_id: number }) => e.user_id).sort((a: number, b: number) => a - b));
      } finally {
        client.close();
      }
    }
    t.diagnostic(`enrolled on node1: ${lists.get(1)!.length}; on node2 after its crash: ${lists.get(2)!.length}`);
    assert.equal(lists.get(1)!.length, STUDENTS, 'every enroll was answered OK and is on the primary');
    assert.deepEqual(lists.get(2), lists.get(1), 'node2 holds what the primary holds');
    assertIntact(env.cluster, 2);
  });

  test('while the primary restarts, Envoy retries a write that carries an idempotency key, and never one without', async (t) => {
    for (const n of [1, 2, 3] as const) if (!env.cluster.isRunning(n)) await env.cluster.startNode(n);
    const school = await createSchool(env.cluster.registrar);
    const sectionId = await section(school, { capacity: 5, waitlist_capacity: 0 });
    const [keyedStudent, plainStudent] = await manyStudents(2, env.cluster.node(1).authGrpc);
    const enroll = (s: Person, headers: Record<string, string> = {}) =>
      http('POST', `/users/${s.id}/enrollments`, { token: s.token, body: { section_id: sectionId }, headers });

    await env.cluster.killNode(1);
    let started = Date.now();
    const plain = await enroll(plainStudent!);
    t.diagnostic(`a write without a key while node1 is down: ${plain.status} after ${Date.now() - started} ms`);
    assert.equal(plain.status, 503, plain.text);

    started = Date.now();
    const keyed = enroll(keyedStudent!, { 'idempotency-key': `restart-${keyedStudent!.id}` });
    await env.cluster.startNode(1);
    t.diagnostic(`node1 was back after ${Date.now() - started} ms`);
    const answer = await keyed;
    t.diagnostic(`the keyed write was answered ${answer.status} after ${Date.now() - started} ms`);
    assert.equal(answer.status, 200, answer.text);
    assert.equal(answer.body.status, 'enrolled');

    const listed = await http('GET', `/sections/${sectionId}/enrollments?status=enrolled`, { token: school.registrar.token });
    assert.equal(listed.status, 200, listed.text);
    assert.deepEqual(listed.body.enrollments.map((e: { user_id: number }) => e.user_id), [keyedStudent!.id], 'the keyed write once, the other not at all');
  });
});

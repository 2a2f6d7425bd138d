/**
 * A registration rush on the real cluster: many students at once enrolling
 * in one small section through all three nodes (Envoy over HTTP/JSON, and
 * each node's gRPC port straight), with drops and waitlist departures mixed
 * in. Afterwards every node must agree with every answer a client received.
 */
import assert from 'node:assert/strict';
import type { Cluster } from '../harness/cluster.js';
import { call, enrollClient, http, txidOf, type UnaryClient } from './clients.js';
import { createSchool, manyStudents, section, type Person } from './school.js';

export interface RushOptions {
  students: number;
  capacity: number;
  waitlistCapacity: number;
}

interface Answer {
  student: Person;
  via: string;
  code: string;
  status?: 'enrolled' | 'waitlisted';
  position?: number;
  txid?: bigint;
}

export interface RushReport {
  students: number;
  ms: number;
  answers: Record<string, number>;
  drops: number;
  promotions: number;
  leaves: number;
  finalEnrolled: number;
  finalWaitlist: number;
  /** Acknowledged writes (enrolls, drops, leaves) and the distinct commits (TXIDs) they carried. */
  writes: number;
  commits: number;
}

type Via = { name: string; enroll(s: Person, sid: number): Promise<Omit<Answer, 'student' | 'via'>>; drop(s: Person, sid: number): Promise<{ code: string; promoted: number[]; txid?: bigint }>; leave(s: Person, sid: number): Promise<{ code: string; txid?: bigint }> };

function httpVia(): Via {
  const codeOf = (status: number) => (status === 200 ? 'OK' : status === 400 ? 'FAILED_PRECONDITION' : `HTTP_${status}`);
  const txid = (h: Headers) => (txidOf(h) ? BigInt(txidOf(h)!) : undefined);
  return {
    name: 'envoy-http',
    async enroll(s, sid) {
      const r = await http('POST', `/users/${s.id}/enrollments`, { token: s.token, body: { section_id: sid } });
      return { code: codeOf(r.status), status: r.body?.status, position: r.body?.position, txid: txid(r.headers) };
    },
    async drop(s, sid) {
      const r = await http('DELETE', `/users/${s.id}/enrollments/${sid}`, { token: s.token });
      return { code: codeOf(r.status), promoted: r.body?.promoted_user_ids ?? [], txid: txid(r.headers) };
    },
    async leave(s, sid) {
      const r = await http('DELETE', `/users/${s.id}/waitlist/${sid}`, { token: s.token });
      return { code: r.status === 404 ? 'NOT_FOUND' : codeOf(r.status), txid: txid(r.headers) };
    },
  };
}

const GRPC_CODES = ['OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS', 'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED'];

function grpcVia(name: string, client: UnaryClient): Via {
  const txid = (h: { get(k: string): unknown[] }) => (h.get('x-txid')[0] ? BigInt(String(h.get('x-txid')[0])) : undefined);
  return {
    name,
    async enroll(s, sid) {
      const r = await call(client, 'CreateEnrollment', { user_id: s.id, section_id: sid }, { token: s.token });
      return { code: GRPC_CODES[r.error?.code ?? 0]!, status: r.response?.status, position: r.response?.position, txid: txid(r.headers) };
    },
    async drop(s, sid) {
      const r = await call(client, 'DropUserEnrollment', { user_id: s.id, section_id: sid }, { token: s.token });
      return { code: GRPC_CODES[r.error?.code ?? 0]!, promoted: r.response?.promoted_user_ids ?? [], txid: txid(r.headers) };
    },
    async leave(s, sid) {
      const r = await call(client, 'DropUserWaitlist', { user_id: s.id, section_id: sid }, { token: s.token });
      return { code: GRPC_CODES[r.error?.code ?? 0]!, txid: txid(r.headers) };
    },
  };
}

export async function runRush(cluster: Cluster, opts: RushOptions): Promise<RushReport> {
  const school = await createSchool(cluster.registrar);
  const sid = await section(school, { capacity: opts.capacity, waitlist_capacity: opts.waitlistCapacity });
  const students = await manyStudents(opts.students, cluster.node(1).authGrpc);

  const clients = [1, 2, 3].map((n) => enrollClient(cluster.node(n as 1 | 2 | 3).enrollGrpc));
  const vias: Via[] = [httpVia(), ...clients.map((c, i) => grpcVia(`node${i + 1}-grpc`, c))];
  const answers: Answer[] = [];
  const dropped = new Set<number>();
  const left = new Set<number>();
  const promoted: number[] = [];
  let maxTxid = 0n;
  const seen = (t?: bigint) => {
    if (t !== undefined && t > maxTxid) maxTxid = t;
  };
  // The TXID of every acknowledged write: how many commits carried them.
  const written: bigint[] = [];
  // Per commit (TXID), how many students left the waitlist in it (promoted or left).
  const removals = new Map<bigint, number>();
  const removed = (t: bigint | undefined, n: number) => {
    if (t !== undefined && n > 0) removals.set(t, (removals.get(t) ?? 0) + n);
  };
  const wrote = (code: string, t?: bigint) => {
    if (code === 'OK' && t !== undefined) written.push(t);
  };

  const started = Date.now();
  try {
    await Promise.all(
      students.map(async (student, i) => {
        const via = vias[i % vias.length]!;
        const answer = { student, via: via.name, ...(await via.enroll(student, sid)) };
        answers.push(answer);
        seen(answer.txid);
        wrote(answer.code, answer.txid);
        if (answer.code === 'OK' && answer.status === 'enrolled' && i % 3 === 0) {
          const d = await via.drop(student, sid);
          assert.equal(d.code, 'OK', `drop by ${student.username}`);
          seen(d.txid);
          wrote(d.code, d.txid);
          dropped.add(student.id);
          promoted.push(...d.promoted);
          removed(d.txid, d.promoted.length);
        }
        if (answer.code === 'OK' && answer.status === 'waitlisted' && i % 4 === 0) {
          const l = await via.leave(student, sid);
          seen(l.txid);
          wrote(l.code, l.txid);
          // NOT_FOUND: promoted to a seat before the leave arrived.
          assert.ok(l.code === 'OK' || l.code === 'NOT_FOUND', `leave by ${student.username}: ${l.code}`);
          if (l.code === 'OK') {
            left.add(student.id);
            removed(l.txid, 1);
          }
        }
      }),
    );
  } finally {
    for (const c of clients) c.close();
  }
  const ms = Date.now() - started;

  const counts: Record<string, number> = {};
  for (const a of answers) {
    const key = a.code === 'OK' ? a.status! : a.code;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  for (const a of answers) {
    assert.ok(a.code === 'OK' || a.code === 'FAILED_PRECONDITION', `unexpected answer ${a.code} via ${a.via}`);
    if (a.code === 'OK') assert.ok(a.txid !== undefined && a.txid > 0n, `an answer via ${a.via} carries its TXID`);
  }

  // Promoted exactly once, and only students who were waiting.
  const waitlisted = new Set(answers.filter((a) => a.status === 'waitlisted').map((a) => a.student.id));
  assert.equal(new Set(promoted).size, promoted.length, 'nobody is promoted twice');
  for (const id of promoted) assert.ok(waitlisted.has(id), `promoted ${id} had been waitlisted`);

  const expectedEnrolled = new Set(answers.filter((a) => a.status === 'enrolled' && !dropped.has(a.student.id)).map((a) => a.student.id));
  for (const id of promoted) expectedEnrolled.add(id);
  const expectedWaitlist = [...waitlisted].filter((id) => !promoted.includes(id) && !left.has(id));

  // The order students joined the waitlist in: by commit TXID, then by the
  // position they were given. Within one commit, students who left the
  // waitlist between two joins (promoted, or left) lower the later joiner's
  // position: the first joiner's position, less those removals, must be
  // below the second's.
  const joinOrder = new Map(answers.filter((a) => a.status === 'waitlisted').map((a) => [a.student.id, [a.txid ?? 0n, a.position ?? 0] as const]));

  let finalEnrolled = 0;
  let finalWaitlist = 0;
  for (const n of [1, 2, 3] as const) {
    const client = enrollClient(cluster.node(n).enrollGrpc);
    try {
      const opt = { token: school.registrar.token, metadata: { 'x-min-txid': maxTxid.toString() } };
      const enr = await call(client, 'ListSectionEnrollments', { section_id: sid, status: 'enrolled', page_size: 500 }, opt);
      assert.equal(enr.error, undefined, `node${n}: ${enr.error?.details}`);
      const wl = await call(client, 'ListSectionWaitlist', { section_id: sid, page_size: 500 }, opt);
      assert.equal(wl.error, undefined, `node${n}: ${wl.error?.details}`);
      const enrolled = new Set<number>(enr.response.enrollments.map((e: { user_id: number }) => e.user_id));
      const entries = wl.response.entries as Array<{ user_id: number; position: number }>;

      assert.ok(enrolled.size <= opts.capacity, `node${n}: ${enrolled.size} enrolled > capacity ${opts.capacity}`);
      assert.ok(entries.length <= opts.waitlistCapacity, `node${n}: waitlist over capacity`);
      assert.deepEqual(entries.map((e) => e.position), entries.map((_, i) => i + 1), `node${n}: positions are 1..n`);
      assert.deepEqual([...enrolled].sort((a, b) => a - b), [...expectedEnrolled].sort((a, b) => a - b), `node${n}: enrolled students match the answers`);
      assert.deepEqual(entries.map((e) => e.user_id).sort((a, b) => a - b), [...expectedWaitlist].sort((a, b) => a - b), `node${n}: waitlist matches the answers`);
      if (entries.length > 0) assert.equal(enrolled.size, opts.capacity, `node${n}: no free seat while students wait`);
      for (let i = 1; i < entries.length; i++) {
        const [t0, p0] = joinOrder.get(entries[i - 1]!.user_id)!;
        const [t1, p1] = joinOrder.get(entries[i]!.user_id)!;
        assert.ok(t0 < t1 || (t0 === t1 && p0 - (removals.get(t0) ?? 0) < p1), `node${n}: waitlist in arrival order at position ${i}`);
      }
      finalEnrolled = enrolled.size;
      finalWaitlist = entries.length;
    } finally {
      client.close();
    }
  }

  return {
    students: students.length,
    ms,
    answers: counts,
    drops: dropped.size,
    promotions: promoted.length,
    leaves: left.size,
    finalEnrolled,
    finalWaitlist,
    writes: written.length,
    commits: new Set(written).size,
  };
}

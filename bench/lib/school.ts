/**
 * Data the scenarios need, made through the product's own API before any
 * timing starts: a school (registrar, an instructor, a department, a course),
 * sections of courses of their own at distinct time slots, and students with fresh access tokens. People
 * are registered and logged in straight on node1's auth gRPC port (Envoy
 * rate-limits the token endpoints, as it should for real users).
 */
import { randomBytes } from 'node:crypto';
import type { Cluster } from '../../test/harness/cluster.js';
import { authClient, enrollClient, http } from '../../test/support/clients.js';
import { manyStudents, section, type Person, type School } from '../../test/support/school.js';
import { mapBounded } from './load.js';
import { unary } from './rpc.js';

export type { Person, School };

const PASSWORD = 'registration-day-2026';
let made = 0;
/** Short unique names: course codes allow at most 20 characters. */
function shortName(prefix: string): string {
  made += 1;
  return `${prefix}${randomBytes(3).toString('hex')}${made}`;
}

/**
 * The registrar logged in, one instructor, a department and a course. (Not
 * test/support's createSchool: its course codes outgrow the 20-character limit
 * after many calls in one process.)
 */
export async function school(cluster: Cluster): Promise<School> {
  const auth = authClient(cluster.node(1).authGrpc);
  const enroll = enrollClient(cluster.node(1).enrollGrpc);
  try {
    const login = async (username: string, password: string) =>
      (await unary(auth, 'Login', { username, password })).response.access_token as string;
    const regToken = await login(cluster.registrar.username, cluster.registrar.password);
    const registrar: Person = { id: 0, username: cluster.registrar.username, password: cluster.registrar.password, token: regToken };
    const profName = shortName('prof');
    const prof = await unary(auth, 'Register', { username: profName, email: `${profName}@example.edu`, first_name: 'Prof', last_name: 'Bench', password: PASSWORD, roles: ['instructor'] }, { token: regToken });
    const instructor: Person = { id: prof.response.user_id, username: profName, password: PASSWORD, token: await login(profName, PASSWORD) };
    const dept = await unary(enroll, 'CreateDepartment', { name: shortName('Bench Dept ') }, { token: regToken });
    const course = await unary(enroll, 'CreateCourse', { code: shortName('BN'), name: 'Benchmarking 101', department_id: dept.response.id }, { token: regToken });
    return { registrar, instructor, otherInstructor: instructor, student: instructor, otherStudent: instructor, departmentId: dept.response.id, courseId: course.response.id };
  } finally {
    auth.close();
    enroll.close();
  }
}

/** `count` students with tokens; argon2 hashing + verifying bounds this (about 80 ops/s on 2 cores). */
export function students(cluster: Cluster, count: number, concurrency = 4): Promise<Person[]> {
  return manyStudents(count, cluster.node(1).authGrpc, concurrency);
}

const sectionsMade = new WeakMap<School, number>();

/**
 * `count` sections, each of a course of its own (a student takes a course in
 * one section, and a scenario's students take any two) and at its own
 * day/time slot. One instructor teaches them all, so a school has at most 112
 * (the distinct slots; the slots run on across schools, so a school's
 * sections are made in a row).
 */
export function sections(s: School, count: number, opts: { capacity: number; waitlist_capacity: number }): Promise<number[]> {
  const total = (sectionsMade.get(s) ?? 0) + count;
  if (total > 112) throw new Error(`a school's instructor has 112 distinct time slots, not ${total}`);
  sectionsMade.set(s, total);
  return mapBounded(Array.from({ length: count }), 4, async () => {
    const course = await http('POST', '/courses', { token: s.registrar.token, body: { code: shortName('BN'), name: 'Benchmarking', department_id: s.departmentId } });
    if (course.status !== 200) throw new Error(`create course: ${course.text}`);
    return section(s, { ...opts, course_id: course.body.id });
  });
}

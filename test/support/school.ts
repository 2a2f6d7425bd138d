/**
 * People and places for the enrollment end-to-end tests, created through the
 * public API the way users would: the registrar logs in, registers
 * instructors, students register themselves, everyone logs in.
 */
import assert from 'node:assert/strict';
import type { Credentials } from '../harness/cluster.js';
import { authClient, call, http, uniqueName } from './clients.js';

export interface Person {
  id: number;
  username: string;
  password: string;
  token: string;
}

const PASSWORD = 'registration-day-2026';

export async function loginHttp(creds: { username: string; password: string }): Promise<string> {
  const res = await http('POST', '/login', { body: creds });
  assert.equal(res.status, 200, `login ${creds.username}: ${res.text}`);
  return res.body.access_token;
}

/** Registers and logs in a person with `role`; other roles than student need the registrar's token. */
export async function person(role: 'student' | 'instructor', registrarToken: string, prefix: string = role): Promise<Person> {
  const username = uniqueName(prefix);
  const res = await http('POST', '/register', {
    token: role === 'student' ? undefined : registrarToken,
    body: { username, email: `${username}@example.edu`, first_name: prefix, last_name: 'Tester', password: PASSWORD, roles: [role] },
  });
  assert.equal(res.status, 200, `register ${username}: ${res.text}`);
  return { id: res.body.user_id, username, password: PASSWORD, token: await loginHttp({ username, password: PASSWORD }) };
}

/**
 * Many students at once, registered and logged in straight on a node's gRPC
 * port (Envoy rate-limits the token endpoints, as it should for real users).
 */
export async function manyStudents(count: number, authAddress: string, concurrency = 4): Promise<Person[]> {
  const client = authClient(authAddress);
  const out: Person[] = [];
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next += 1;
      const username = uniqueName('rush');
      const reg = await call(client, 'Register', { username, email: `${username}@example.edu`, password: PASSWORD });
      assert.equal(reg.error, undefined, reg.error?.details);
      const login = await call(client, 'Login', { username, password: PASSWORD });
      assert.equal(login.error, undefined, login.error?.details);
      out.push({ id: reg.response.user_id, username, password: PASSWORD, token: login.response.access_token });
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    client.close();
  }
  return out;
}

export interface School {
  registrar: Person;
  instructor: Person;
  otherInstructor: Person;
  student: Person;
  otherStudent: Person;
  departmentId: number;
  courseId: number;
}

let courses = 0;
/** A course code unique in this run and within the 20 characters the API allows. */
function shortCode(): string {
  courses += 1;
  return `C${process.pid % 100000}-${courses}`;
}

export async function createSchool(registrarCreds: Credentials): Promise<School> {
  const token = await loginHttp(registrarCreds);
  const registrar: Person = { id: 0, username: registrarCreds.username, password: registrarCreds.password, token };
  const [instructor, otherInstructor, student, otherStudent] = await Promise.all([
    person('instructor', token, 'prof'),
    person('instructor', token, 'otherprof'),
    person('student', token, 'stu'),
    person('student', token, 'otherstu'),
  ]);
  const dept = await http('POST', '/departments', { token, body: { name: uniqueName('Dept') } });
  assert.equal(dept.status, 200, dept.text);
  const course = await http('POST', '/courses', { token, body: { code: shortCode(), name: 'Web Back-End Engineering', department_id: dept.body.id } });
  assert.equal(course.status, 200, course.text);
  return { registrar, instructor, otherInstructor, student, otherStudent, departmentId: dept.body.id, courseId: course.body.id };
}

/** A new course in the school's department (3 credits unless given), created by the registrar; returns its id and code. */
export async function course(school: School, name = 'Elective', credits?: number): Promise<{ id: number; code: string }> {
  const res = await http('POST', '/courses', { token: school.registrar.token, body: { code: shortCode(), name, department_id: school.departmentId, credits } });
  assert.equal(res.status, 200, `create course: ${res.text}`);
  return { id: res.body.id, code: res.body.code };
}

const DAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];
let slot = 0;

/**
 * A new section (of the school's course unless given), taught by the school's
 * instructor unless given, in a classroom of its own, at a time slot no other
 * section of this run uses unless a time is given. The slots are hours from
 * 06:00 to 21:50: a test that gives times outside them cannot clash with
 * them, for a student or for the instructor. A day given alone keeps the
 * slot's hour, which the section before may have had too.
 */
export async function section(
  school: School,
  opts: { course_id?: number; capacity?: number; waitlist_capacity?: number; day?: string; begin_time?: string; end_time?: string; instructor?: Person } = {},
): Promise<number> {
  slot += 1;
  const day = opts.day ?? DAYS[slot % 7]!;
  const hour = 6 + (Math.floor(slot / 7) % 16);
  const body = {
    course_id: opts.course_id ?? school.courseId,
    classroom: `R${slot}`,
    capacity: opts.capacity ?? 30,
    waitlist_capacity: opts.waitlist_capacity ?? 15,
    day,
    begin_time: opts.begin_time ?? `${String(hour).padStart(2, '0')}:00`,
    end_time: opts.end_time ?? `${String(hour).padStart(2, '0')}:50`,
    instructor_id: (opts.instructor ?? school.instructor).id,
  };
  const res = await http('POST', '/sections', { token: school.registrar.token, body });
  assert.equal(res.status, 200, `create section: ${res.text}`);
  return res.body.id;
}

export function enroll(who: Person, userId: number, sectionId: number) {
  return http('POST', `/users/${userId}/enrollments`, { token: who.token, body: { section_id: sectionId } });
}

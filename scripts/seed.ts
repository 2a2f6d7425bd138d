/**
 * Loads the sample data of the original project (seed 000: its departments,
 * courses, sections, users, enrollments and waitlists) into a running
 * cluster, through Envoy's HTTP/JSON API like any client: `npm run seed`.
 *
 * The data goes through the real rules, so the result is what those rules
 * make of it: a "dropped" row frees a seat and promotes the first waitlisted
 * student. Running it twice is harmless: what exists is reused.
 *
 * The registrar's credentials come from REGISTRAR_USERNAME/REGISTRAR_PASSWORD
 * or from the cluster's secrets file (var/cluster/secrets/registrar.env).
 * Seeded users get one password, printed at the end (SEED_PASSWORD to choose it).
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../lib/grpc/proto.js';

const BASE = process.env.ENVOY_URL ?? 'http://127.0.0.1:8080';

// Seed 000's users. The first rows of its users table are not legible in the
// seed; ids 1–5 are given names here, the rest are the seed's own.
const USERS: Array<[username: string, first: string, last: string, role: 'instructor' | 'student']> = [
  ['alan', 'Alan', 'Garcia', 'instructor'],
  ['beth', 'Beth', 'Nguyen', 'instructor'],
  ['carl', 'Carl', 'Smith', 'instructor'],
  ['dana', 'Dana', 'Reyes', 'instructor'],
  ['dave', 'Dave', 'Brown', 'student'],
  ['isabel', 'Isabel', 'Taylor', 'student'],
  ['kim', 'Kim', 'Martinez', 'student'],
  ['mary', 'Mary', 'Lopez', 'student'],
  ['olivia', 'Olivia', 'Walker', 'student'],
  ['peter', 'Peter', 'Perez', 'student'],
  ['qiana', 'Qiana', 'Johnson', 'student'],
  ['sarah', 'Sarah', 'Davis', 'student'],
  ['ursula', 'Ursula', 'Wilson', 'student'],
  ['victor', 'Victor', 'Young', 'student'],
];
const DEPARTMENTS = ['Computer Science', 'Mathematics'];
const COURSES: Array<[code: string, name: string, department: string]> = [
  ['CPSC 449', 'Web Back-End Engineering', 'Computer Science'],
  ['MATH 150A', 'Calculus I', 'Mathematics'],
];
// Section n of the seed; capacities are small so that its waitlists form.
const SECTIONS: Array<{ course: string; classroom: string; capacity: number; day: string; begin: string; end: string; instructor: string }> = [
  { course: 'CPSC 449', classroom: 'CS102', capacity: 4, day: 'Tuesday', begin: '19:00', end: '21:45', instructor: 'beth' },
  { course: 'CPSC 449', classroom: 'CS104', capacity: 4, day: 'Thursday', begin: '19:00', end: '21:45', instructor: 'alan' },
  { course: 'MATH 150A', classroom: 'MH201', capacity: 3, day: 'Monday', begin: '10:00', end: '11:15', instructor: 'carl' },
  { course: 'MATH 150A', classroom: 'MH203', capacity: 3, day: 'Wednesday', begin: '10:00', end: '11:15', instructor: 'dana' },
];
// The seed's enrollments (user index 1-based as in the seed, section 1-based, status) in order…
// but one: the seed enrolls kim (7) in both sections of CPSC 449, and a
// student now takes a course in one section at a time.
const ENROLLMENTS: Array<[user: number, section: number, status: 'enrolled' | 'dropped']> = [
  [6, 1, 'enrolled'], [7, 1, 'enrolled'], [8, 1, 'enrolled'], [9, 2, 'enrolled'], [10, 2, 'dropped'],
  [11, 2, 'enrolled'], [12, 3, 'enrolled'], [13, 3, 'dropped'], [14, 4, 'enrolled'], [5, 3, 'enrolled'],
  [6, 4, 'enrolled'],
];
// …then its waitlists, in position order.
const WAITLIST: Array<[user: number, section: number]> = [
  [8, 3], [9, 4], [11, 1], [12, 1], [13, 2], [14, 2], [10, 3],
];

function registrarCredentials(): { username: string; password: string } {
  let username = process.env.REGISTRAR_USERNAME;
  let password = process.env.REGISTRAR_PASSWORD;
  const file = join(process.env.CLUSTER_DIR ?? join(REPO_ROOT, 'var/cluster'), 'secrets/registrar.env');
  if ((!username || !password) && existsSync(file)) {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const m = /^(REGISTRAR_USERNAME|REGISTRAR_PASSWORD)=(.*)$/.exec(line.trim());
      if (m?.[1] === 'REGISTRAR_USERNAME') username ??= m[2]!.replace(/^['"]|['"]$/g, '');
      if (m?.[1] === 'REGISTRAR_PASSWORD') password ??= m[2]!.replace(/^['"]|['"]$/g, '');
    }
  }
  if (!username || !password) throw new Error(`no registrar credentials: set REGISTRAR_USERNAME/REGISTRAR_PASSWORD or start the cluster with npm start (it writes ${file})`);
  return { username, password };
}

async function api(method: string, path: string, token: string | undefined, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${BASE}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: any = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* plain-text error from Envoy */
  }
  return { status: res.status, body: parsed };
}

function must(answer: { status: number; body: any }, what: string): any {
  if (answer.status !== 200) throw new Error(`${what}: HTTP ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body;
}

async function listAll(path: string, key: string, token: string): Promise<any[]> {
  const out: any[] = [];
  let pageToken = '';
  do {
    const sep = path.includes('?') ? '&' : '?';
    const page = must(await api('GET', `${path}${sep}page_size=500${pageToken ? `&page_token=${pageToken}` : ''}`, token), `GET ${path}`);
    out.push(...page[key]);
    pageToken = page.next_page_token;
  } while (pageToken);
  return out;
}

async function main(): Promise<void> {
  const registrar = registrarCredentials();
  const token = must(await api('POST', '/login', undefined, registrar), 'registrar login').access_token as string;
  const password = process.env.SEED_PASSWORD ?? randomUUID();

  const ids = new Map<string, number>();
  let registered = 0;
  for (const [username, first_name, last_name, role] of USERS) {
    const r = await api('POST', '/register', token, { username, email: `${username}@example.edu`, first_name, last_name, password, roles: [role] });
    if (r.status === 200) {
      ids.set(username, r.body.user_id);
      registered += 1;
    } else if (r.status !== 409) must(r, `register ${username}`);
  }
  if (ids.size < USERS.length) {
    for (const u of await listAll('/users', 'users', token)) ids.set(u.username, u.id);
  }
  const userId = (seedIndex: number) => ids.get(USERS[seedIndex - 1]![0])!;

  const departments = new Map<string, number>();
  for (const name of DEPARTMENTS) {
    const r = await api('POST', '/departments', token, { name });
    if (r.status === 200) departments.set(name, r.body.id);
  }
  for (const d of await listAll('/departments', 'departments', token)) departments.set(d.name, d.id);

  const courses = new Map<string, number>();
  for (const [code, name, department] of COURSES) {
    const r = await api('POST', '/courses', token, { code, name, department_id: departments.get(department) });
    if (r.status !== 200 && r.status !== 409) must(r, `course ${code}`);
  }
  for (const c of await listAll('/courses', 'courses', token)) courses.set(c.code, c.id);

  const existing = await listAll('/sections', 'sections', token);
  let sectionIds: number[];
  if (existing.length >= SECTIONS.length) {
    sectionIds = existing.slice(0, SECTIONS.length).map((s) => s.id);
    console.log('seed: sections already exist, not enrolling again');
  } else {
    sectionIds = [];
    for (const s of SECTIONS) {
      const body = { course_id: courses.get(s.course), classroom: s.classroom, capacity: s.capacity, waitlist_capacity: 15, day: s.day, begin_time: s.begin, end_time: s.end, instructor_id: ids.get(s.instructor) };
      sectionIds.push(must(await api('POST', '/sections', token, body), `section ${s.classroom}`).id);
    }
    for (const [user, section] of ENROLLMENTS) {
      must(await api('POST', `/users/${userId(user)}/enrollments`, token, { section_id: sectionIds[section - 1] }), `enroll user ${user} in section ${section}`);
    }
    for (const [user, section] of WAITLIST) {
      const r = await api('POST', `/users/${userId(user)}/enrollments`, token, { section_id: sectionIds[section - 1] });
      console.log(`seed: ${USERS[user - 1]![0]} → section ${sectionIds[section - 1]}: ${r.status === 200 ? `${r.body.status}${r.body.position ? ` #${r.body.position}` : ''}` : JSON.stringify(r.body)}`);
    }
    for (const [user, section, status] of ENROLLMENTS) {
      if (status !== 'dropped') continue;
      const r = must(await api('DELETE', `/users/${userId(user)}/enrollments/${sectionIds[section - 1]}`, token), `drop user ${user}`);
      console.log(`seed: ${USERS[user - 1]![0]} dropped section ${sectionIds[section - 1]}; promoted: ${JSON.stringify(r.promoted_user_ids)}`);
    }
  }
  console.log(`seed: ${registered} users registered now; ${departments.size} departments, ${courses.size} courses, ${sectionIds.length} sections`);
  if (registered > 0 && process.env.SEED_PASSWORD === undefined) console.log(`seed: the users registered now have the password ${password}`);
}

main().catch((err: unknown) => {
  console.error(`seed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Status } from '../../../lib/errors.js';
import { enrollAll, INSTRUCTOR, REGISTRAR, rejectsWith, setup, student } from './fixture.js';
import { decodeToken, encodeToken, pageSize } from '../../../lib/pagination.js';

test('pages walk the whole list in id order; the last has an empty token', async () => {
  const f = await setup();
  for (let i = 0; i < 6; i++) await f.domain.createDepartment(REGISTRAR, { name: `Dept ${i}` });
  const seen: number[] = [];
  const tokens: string[] = [];
  let token = '';
  do {
    const page = await f.domain.listDepartments(student(10), { page_size: 3, page_token: token });
    assert.ok(page.departments.length <= 3);
    seen.push(...page.departments.map((d) => d.id));
    token = page.next_page_token;
    tokens.push(token);
  } while (token !== '');
  assert.deepEqual(seen, [1, 2, 3, 4, 5, 6, 7]);
  assert.equal(tokens.length, 3);
  // Exactly a full last page: no extra empty page is announced.
  const exact = await f.domain.listDepartments(student(10), { page_size: 7 });
  assert.equal(exact.next_page_token, '');
  f.close();
});

test('page_size: default 50, at most 500, negative refused', async () => {
  assert.equal(pageSize(undefined), 50);
  assert.equal(pageSize(0), 50);
  assert.equal(pageSize(501), 500);
  assert.equal(pageSize(7), 7);
  const f = await setup();
  // 60 departments in one transaction, straight through SQL.
  f.db.transaction(() => {
    for (let i = 0; i < 60; i++) f.db.prepare('INSERT INTO departments (name) VALUES (?)').run(`D${i}`);
  })();
  const first = await f.domain.listDepartments(student(10), {});
  assert.equal(first.departments.length, 50);
  assert.notEqual(first.next_page_token, '');
  await rejectsWith(f.domain.listDepartments(student(10), { page_size: -1 }), Status.INVALID_ARGUMENT, { field: 'page_size' });
  f.close();
});

test('malformed or foreign page tokens are INVALID_ARGUMENT naming page_token', async () => {
  const f = await setup();
  for (const bad of ['%%%', 'bm90IGpzb24', encodeToken('course', [1]), encodeToken('dept', [-1]), encodeToken('dept', [1, 2])]) {
    await rejectsWith(f.domain.listDepartments(student(10), { page_token: bad }), Status.INVALID_ARGUMENT, { field: 'page_token' });
  }
  assert.deepEqual(decodeToken('dept', 1, encodeToken('dept', [42])), [42]);
  f.close();
});

test('waitlists page by position, course waitlists by section then position', async () => {
  const f = await setup();
  const a = await f.section({ capacity: 1 });
  const b = await f.section({ capacity: 1, day: 'Friday' });
  await enrollAll(f, a, [10, 11, 12, 13]);
  await enrollAll(f, b, [20, 21, 22]);
  const p1 = await f.domain.listSectionWaitlist(INSTRUCTOR, { section_id: a, page_size: 2 });
  assert.deepEqual(p1.entries.map((e) => e.position), [1, 2]);
  const p2 = await f.domain.listSectionWaitlist(INSTRUCTOR, { section_id: a, page_size: 2, page_token: p1.next_page_token });
  assert.deepEqual(p2.entries.map((e) => [e.position, e.user_id]), [[3, 13]]);
  assert.equal(p2.next_page_token, '');

  const all: Array<[number, number]> = [];
  let token = '';
  do {
    const page = await f.domain.listCourseWaitlist(REGISTRAR, { course_id: f.courseId, page_size: 2, page_token: token });
    all.push(...page.entries.map((e): [number, number] => [e.section_id, e.position]));
    token = page.next_page_token;
  } while (token !== '');
  assert.deepEqual(all, [[a, 1], [a, 2], [a, 3], [b, 1], [b, 2]]);
  f.close();
});

test('enrollment listings: filtered by status, ordered by user or section', async () => {
  const f = await setup();
  const a = await f.section({ capacity: 5 });
  const b = await f.section({ course_id: await f.course(), capacity: 5, day: 'Friday' });
  await enrollAll(f, a, [12, 10, 11]);
  await enrollAll(f, b, [10]);
  await f.domain.dropUserEnrollment(student(11), { user_id: 11, section_id: a });
  const roster = await f.domain.listSectionEnrollments(INSTRUCTOR, { section_id: a });
  assert.deepEqual(roster.enrollments.map((e) => [e.user_id, e.status]), [[10, 'enrolled'], [11, 'dropped'], [12, 'enrolled']]);
  const enrolled = await f.domain.listSectionEnrollments(INSTRUCTOR, { section_id: a, status: 'enrolled' });
  assert.deepEqual(enrolled.enrollments.map((e) => e.user_id), [10, 12]);
  const e = enrolled.enrollments[0]!;
  assert.equal(e.username, 's10');
  assert.equal(e.course_code, 'CPSC 449');
  assert.equal(e.grade, '');
  assert.match(e.date, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  const mine = await f.domain.listUserEnrollments(student(10), { user_id: 10, page_size: 1 });
  assert.deepEqual(mine.enrollments.map((x) => x.section_id), [a]);
  const next = await f.domain.listUserEnrollments(student(10), { user_id: 10, page_size: 1, page_token: mine.next_page_token });
  assert.deepEqual(next.enrollments.map((x) => x.section_id), [b]);
  const dropped = await f.domain.listUserEnrollments(student(11), { user_id: 11, status: 'dropped' });
  assert.deepEqual(dropped.enrollments.map((x) => x.section_id), [a]);
  await rejectsWith(f.domain.listUserEnrollments(student(10), { user_id: 10, status: 'waitlisted' }), Status.INVALID_ARGUMENT, {
    field: 'status',
  });
  await rejectsWith(f.domain.listSectionEnrollments(REGISTRAR, { section_id: a, status: 'ENROLLED' }), Status.INVALID_ARGUMENT, {
    field: 'status',
  });
  f.close();
});

test('listUserSections: enrolled (default) or instructing; other types refused', async () => {
  const f = await setup();
  const a = await f.section();
  await f.section({ day: 'Friday' });
  await enrollAll(f, a, [10]);
  assert.deepEqual((await f.domain.listUserSections(student(10), { user_id: 10 })).sections.map((s) => s.id), [a]);
  assert.deepEqual((await f.domain.listUserSections(student(10), { user_id: 10, type: 'enrolled' })).sections.map((s) => s.id), [a]);
  const teaching = await f.domain.listUserSections(INSTRUCTOR, { user_id: INSTRUCTOR.userId, type: 'instructing' });
  assert.equal(teaching.sections.length, 2);
  await rejectsWith(f.domain.listUserSections(student(10), { user_id: 10, type: 'teaching' }), Status.INVALID_ARGUMENT, { field: 'type' });
  f.close();
});

test('users: listed by id for the registrar; unknown users are NOT_FOUND', async () => {
  const f = await setup();
  const page = await f.domain.listUsers(REGISTRAR, { page_size: 3 });
  assert.deepEqual(page.users.map((u) => u.id), [1, 2, 3]);
  const next = await f.domain.listUsers(REGISTRAR, { page_size: 3, page_token: page.next_page_token });
  assert.deepEqual(next.users.map((u) => u.id), [10, 11, 12]);
  assert.deepEqual(await f.domain.getUser(student(10), { user_id: 10 }), {
    id: 10,
    username: 's10',
    first_name: 'Stu',
    last_name: 'Dent10',
    roles: ['student'],
  });
  await rejectsWith(f.domain.getUser(REGISTRAR, { user_id: 999 }), Status.NOT_FOUND);
  await rejectsWith(f.domain.listUserEnrollments(REGISTRAR, { user_id: 999 }), Status.NOT_FOUND);
  await rejectsWith(f.domain.listUserWaitlist(REGISTRAR, { user_id: 999 }), Status.NOT_FOUND);
  f.close();
});

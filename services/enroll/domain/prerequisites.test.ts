import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Status } from '../../../lib/errors.js';
import { enrollAll, INSTRUCTOR, OTHER_INSTRUCTOR, REGISTRAR, rejectsWith, setup, statusOf, student, waitlistOf, type Fixture } from './fixture.js';

/** A course in the fixture's department. */
async function course(f: Fixture, code: string): Promise<number> {
  const { department_id } = await f.domain.getCourse(REGISTRAR, { course_id: f.courseId });
  return (await f.domain.createCourse(REGISTRAR, { code, name: `Course ${code}`, department_id })).id;
}

/** The fixture's course (CPSC 449) requires a new course, CPSC 131, with a Tuesday section. */
async function withPrerequisite(f: Fixture): Promise<{ prereq: number; prereqSection: number }> {
  const prereq = await course(f, 'CPSC 131');
  const prereqSection = await f.section({ course_id: prereq, day: 'Tuesday', capacity: 10 });
  await f.domain.setCoursePrerequisites(REGISTRAR, { course_id: f.courseId, prerequisite_ids: [prereq] });
  return { prereq, prereqSection };
}

/** Enrolls the student in the section and has its instructor grade them. */
async function takeWithGrade(f: Fixture, userId: number, sectionId: number, grade: string): Promise<void> {
  await enrollAll(f, sectionId, [userId]);
  await f.domain.setEnrollmentGrade(INSTRUCTOR, { section_id: sectionId, user_id: userId, grade });
}

const codes = (res: { prerequisites: Array<{ code: string }> }) => res.prerequisites.map((c) => c.code);

test('the registrar sets prerequisites; anyone reads them in code order, an id listed twice once; empty clears them', async () => {
  const f = await setup();
  const b = await course(f, 'MATH 270');
  const a = await course(f, 'CPSC 120');
  const set = await f.domain.setCoursePrerequisites(REGISTRAR, { course_id: f.courseId, prerequisite_ids: [b, a, b] });
  assert.equal(set.course_id, f.courseId);
  assert.deepEqual(codes(set), ['CPSC 120', 'MATH 270']);
  for (const actor of [student(10), INSTRUCTOR]) {
    assert.deepEqual(codes(await f.domain.listCoursePrerequisites(actor, { course_id: f.courseId })), ['CPSC 120', 'MATH 270']);
  }
  assert.deepEqual(codes(await f.domain.listCoursePrerequisites(student(10), { course_id: a })), []);
  await f.domain.setCoursePrerequisites(REGISTRAR, { course_id: f.courseId, prerequisite_ids: [a] });
  assert.deepEqual(codes(await f.domain.listCoursePrerequisites(REGISTRAR, { course_id: f.courseId })), ['CPSC 120']);
  assert.deepEqual(codes(await f.domain.setCoursePrerequisites(REGISTRAR, { course_id: f.courseId, prerequisite_ids: [] })), []);
  f.close();
});

test('bad prerequisite lists are refused with the right status and change nothing', async () => {
  const f = await setup();
  const a = await course(f, 'CPSC 120');
  await f.domain.setCoursePrerequisites(REGISTRAR, { course_id: f.courseId, prerequisite_ids: [a] });
  const before = f.snapshot();
  const set = (actorReq: Parameters<typeof f.domain.setCoursePrerequisites>[1], actor = REGISTRAR) => f.domain.setCoursePrerequisites(actor, actorReq);
  await rejectsWith(set({ course_id: f.courseId, prerequisite_ids: [f.courseId] }), Status.INVALID_ARGUMENT, { field: 'prerequisite_ids' });
  await rejectsWith(set({ course_id: f.courseId, prerequisite_ids: [0] }), Status.INVALID_ARGUMENT, { field: 'prerequisite_ids' });
  await rejectsWith(set({ course_id: f.courseId, prerequisite_ids: Array.from({ length: 11 }, (_, i) => 100 + i) }), Status.INVALID_ARGUMENT, {
    field: 'prerequisite_ids',
  });
  await rejectsWith(set({ course_id: f.courseId, prerequisite_ids: [a, 999] }), Status.NOT_FOUND, { message: /course 999/ });
  await rejectsWith(set({ course_id: 999, prerequisite_ids: [a] }), Status.NOT_FOUND, { message: /course 999/ });
  await rejectsWith(set({ course_id: 0, prerequisite_ids: [a] }), Status.INVALID_ARGUMENT, { field: 'course_id' });
  await rejectsWith(set({ course_id: f.courseId, prerequisite_ids: [] }, INSTRUCTOR), Status.PERMISSION_DENIED);
  await rejectsWith(set({ course_id: f.courseId, prerequisite_ids: [] }, student(10)), Status.PERMISSION_DENIED);
  await rejectsWith(f.domain.listCoursePrerequisites(student(10), { course_id: 999 }), Status.NOT_FOUND);
  assert.equal(f.snapshot(), before);
  f.close();
});

test('prerequisites never form a circle, directly or through other courses', async () => {
  const f = await setup();
  const a = await course(f, 'CPSC 120');
  const b = await course(f, 'CPSC 121');
  // 449 requires 121, which requires 120.
  await f.domain.setCoursePrerequisites(REGISTRAR, { course_id: f.courseId, prerequisite_ids: [b] });
  await f.domain.setCoursePrerequisites(REGISTRAR, { course_id: b, prerequisite_ids: [a] });
  const before = f.snapshot();
  await rejectsWith(f.domain.setCoursePrerequisites(REGISTRAR, { course_id: b, prerequisite_ids: [a, f.courseId] }), Status.FAILED_PRECONDITION, {
    message: /CPSC 121 \(course \d+\) is already required/,
  });
  await rejectsWith(f.domain.setCoursePrerequisites(REGISTRAR, { course_id: a, prerequisite_ids: [f.courseId] }), Status.FAILED_PRECONDITION);
  assert.equal(f.snapshot(), before);
  // Two courses requiring the same one is no circle.
  const c = await course(f, 'CPSC 131');
  await f.domain.setCoursePrerequisites(REGISTRAR, { course_id: c, prerequisite_ids: [a] });
  await f.domain.setCoursePrerequisites(REGISTRAR, { course_id: f.courseId, prerequisite_ids: [b, c] });
  assert.deepEqual(codes(await f.domain.listCoursePrerequisites(REGISTRAR, { course_id: f.courseId })), ['CPSC 121', 'CPSC 131']);
  f.close();
});

test('a student enrolls only after passing each prerequisite: any grade but F, NP and I', async () => {
  const f = await setup();
  const { prereqSection } = await withPrerequisite(f);
  const s = await f.section({ capacity: 10 });
  const before = f.snapshot();
  // Never took it.
  await rejectsWith(f.domain.createEnrollment(student(10), { user_id: 10, section_id: s }), Status.FAILED_PRECONDITION, {
    message: /has not passed CPSC 131 \(course \d+\), a prerequisite/,
  });
  assert.equal(f.snapshot(), before);
  // Taking it, not graded yet.
  await enrollAll(f, prereqSection, [11]);
  await rejectsWith(f.domain.createEnrollment(student(11), { user_id: 11, section_id: s }), Status.FAILED_PRECONDITION);
  for (const [id, grade] of [[12, 'F'], [13, 'NP'], [14, 'I']] as const) {
    await takeWithGrade(f, id, prereqSection, grade);
    await rejectsWith(f.domain.createEnrollment(student(id), { user_id: id, section_id: s }), Status.FAILED_PRECONDITION, { message: /CPSC 131/ });
    assert.equal(statusOf(f, id, s), undefined);
  }
  for (const [id, grade] of [[15, 'D-'], [16, 'P'], [17, 'A+']] as const) {
    await takeWithGrade(f, id, prereqSection, grade);
    const res = await f.domain.createEnrollment(student(id), { user_id: id, section_id: s });
    assert.equal(res.status, 'enrolled', `grade ${grade}`);
  }
  f.close();
});

test('every prerequisite counts, and a failed attempt does not cancel a pass in another section', async () => {
  const f = await setup();
  const { prereq, prereqSection } = await withPrerequisite(f);
  const other = await course(f, 'MATH 270');
  const otherSection = await f.section({ course_id: other, day: 'Wednesday', capacity: 10 });
  await f.domain.setCoursePrerequisites(REGISTRAR, { course_id: f.courseId, prerequisite_ids: [prereq, other] });
  const retake = await f.section({ course_id: prereq, day: 'Thursday', capacity: 10 });
  const s = await f.section({ capacity: 10 });
  await takeWithGrade(f, 10, prereqSection, 'F');
  await takeWithGrade(f, 10, retake, 'B');
  await rejectsWith(f.domain.createEnrollment(student(10), { user_id: 10, section_id: s }), Status.FAILED_PRECONDITION, { message: /MATH 270/ });
  await takeWithGrade(f, 10, otherSection, 'C');
  assert.equal((await f.domain.createEnrollment(student(10), { user_id: 10, section_id: s })).status, 'enrolled');
  f.close();
});

test('joining a waitlist checks prerequisites too, and so does the promotion: a grade changed since keeps the student in line', async () => {
  const f = await setup();
  const { prereqSection } = await withPrerequisite(f);
  const s = await f.section({ capacity: 1 });
  await takeWithGrade(f, 10, prereqSection, 'A');
  await takeWithGrade(f, 11, prereqSection, 'B');
  await f.domain.createEnrollment(student(10), { user_id: 10, section_id: s });
  await rejectsWith(f.domain.createEnrollment(student(12), { user_id: 12, section_id: s }), Status.FAILED_PRECONDITION, { message: /CPSC 131/ });
  assert.deepEqual(waitlistOf(f, s), []);
  assert.equal((await f.domain.createEnrollment(student(11), { user_id: 11, section_id: s })).status, 'waitlisted');
  // 12 has not passed CPSC 131 either; the registrar waives it for them, and they wait behind 11.
  assert.equal((await f.domain.createEnrollment(REGISTRAR, { user_id: 12, section_id: s, waive_prerequisites: true })).status, 'waitlisted');
  // The grade that let 11 join becomes an I: the seat that frees goes past them, to 12, whose waiver holds.
  await f.domain.setEnrollmentGrade(REGISTRAR, { section_id: prereqSection, user_id: 11, grade: 'I' });
  const dropped = await f.domain.dropUserEnrollment(student(10), { user_id: 10, section_id: s });
  assert.deepEqual(dropped.promoted_user_ids, [12]);
  assert.deepEqual(waitlistOf(f, s), [[11, 1]], '11 keeps their place');
  // Passed again, 11 takes the next free seat before anyone who joins later.
  await f.domain.dropUserEnrollment(student(12), { user_id: 12, section_id: s });
  assert.equal(statusOf(f, 11, s), undefined, 'still not passed');
  await f.domain.setEnrollmentGrade(REGISTRAR, { section_id: prereqSection, user_id: 11, grade: 'B' });
  assert.equal(statusOf(f, 11, s), 'enrolled');
  assert.deepEqual(waitlistOf(f, s), []);
  f.close();
});

test('a prerequisite no longer required lets the students skipped for it take the seats left free, before newcomers', async () => {
  const f = await setup();
  const other = await course(f, 'MATH 270');
  const s = await f.section({ capacity: 1 });
  await enrollAll(f, s, [10]);
  assert.equal((await f.domain.createEnrollment(student(11), { user_id: 11, section_id: s })).status, 'waitlisted');
  const { prereq } = await withPrerequisite(f);
  await f.domain.dropUserEnrollment(student(10), { user_id: 10, section_id: s });
  assert.deepEqual(waitlistOf(f, s), [[11, 1]], '11 has not passed CPSC 131: skipped, the seat stays free');
  // Adding a course to the list frees no one.
  await f.domain.setCoursePrerequisites(REGISTRAR, { course_id: f.courseId, prerequisite_ids: [prereq, other] });
  assert.deepEqual(waitlistOf(f, s), [[11, 1]]);
  // Replaced by a list 11 has passed (none of it): the seat is theirs at once.
  await f.domain.setCoursePrerequisites(REGISTRAR, { course_id: f.courseId, prerequisite_ids: [] });
  assert.equal(statusOf(f, 11, s), 'enrolled');
  assert.deepEqual(waitlistOf(f, s), []);
  assert.equal((await f.domain.createEnrollment(student(12), { user_id: 12, section_id: s })).status, 'waitlisted', 'a newcomer waits');
  f.close();
});

test('only the registrar waives prerequisites', async () => {
  const f = await setup();
  await withPrerequisite(f);
  const s = await f.section({ capacity: 10 });
  await rejectsWith(f.domain.createEnrollment(student(10), { user_id: 10, section_id: s, waive_prerequisites: true }), Status.PERMISSION_DENIED, {
    message: /waives prerequisites/,
  });
  await rejectsWith(f.domain.createEnrollment(REGISTRAR, { user_id: 10, section_id: s }), Status.FAILED_PRECONDITION);
  assert.equal(statusOf(f, 10, s), undefined);
  const res = await f.domain.createEnrollment(REGISTRAR, { user_id: 10, section_id: s, waive_prerequisites: true });
  assert.equal(res.status, 'enrolled');
  f.close();
});

test('a course others require is not deleted; a course with prerequisites of its own is, and they go with it', async () => {
  const f = await setup();
  const a = await course(f, 'CPSC 120');
  const b = await course(f, 'CPSC 121');
  await f.domain.setCoursePrerequisites(REGISTRAR, { course_id: b, prerequisite_ids: [a] });
  await rejectsWith(f.domain.deleteCourse(REGISTRAR, { course_id: a }), Status.FAILED_PRECONDITION, {
    message: /prerequisite of CPSC 121 \(course \d+\)/,
  });
  assert.equal((await f.domain.getCourse(REGISTRAR, { course_id: a })).code, 'CPSC 120');
  await f.domain.deleteCourse(REGISTRAR, { course_id: b });
  assert.deepEqual(f.db.prepare('SELECT * FROM course_prerequisites').all(), []);
  await f.domain.deleteCourse(REGISTRAR, { course_id: a });
  await rejectsWith(f.domain.getCourse(REGISTRAR, { course_id: a }), Status.NOT_FOUND);
  f.close();
});

test('a passed prerequisite does not clash with the course it opens: a graded section frees its hours', async () => {
  const f = await setup();
  const { prereqSection } = await withPrerequisite(f);
  // The same Tuesday hour as the prerequisite's section.
  const s = await f.section({ day: 'Tuesday', capacity: 10, instructor_id: OTHER_INSTRUCTOR.userId });
  await enrollAll(f, prereqSection, [10]);
  // Taking it still, the student clashes with it (the registrar waives the prerequisite to show that).
  await rejectsWith(f.domain.createEnrollment(REGISTRAR, { user_id: 10, section_id: s, waive_prerequisites: true }), Status.FAILED_PRECONDITION, {
    message: new RegExp(`schedule conflict with section ${prereqSection}`),
  });
  await f.domain.setEnrollmentGrade(INSTRUCTOR, { section_id: prereqSection, user_id: 10, grade: 'B-' });
  assert.equal((await f.domain.createEnrollment(student(10), { user_id: 10, section_id: s })).status, 'enrolled');
  f.close();
});

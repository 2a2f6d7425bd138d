import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Status } from '../../../lib/errors.js';
import { enrollAll, INSTRUCTOR, OTHER_INSTRUCTOR, REGISTRAR, rejectsWith, setup, statusOf, student, waitlistOf, type Fixture } from './fixture.js';

function gradeOf(f: Fixture, userId: number, sectionId: number): string | null | undefined {
  return f.db
    .prepare<[number, number], { grade: string | null }>('SELECT grade FROM enrollments WHERE user_id = ? AND section_id = ?')
    .get(userId, sectionId)?.grade;
}

test("the section's instructor grades an enrolled student; the grade is stored in capitals and the student sees it", async () => {
  const f = await setup();
  const s = await f.section();
  await enrollAll(f, s, [10]);
  const res = await f.domain.setEnrollmentGrade(INSTRUCTOR, { section_id: s, user_id: 10, grade: ' b+ ' });
  assert.equal(res.grade, 'B+');
  assert.equal(res.status, 'enrolled');
  assert.equal(res.user_id, 10);
  assert.equal(gradeOf(f, 10, s), 'B+');
  const own = await f.domain.listUserEnrollments(student(10), { user_id: 10 });
  assert.deepEqual(own.enrollments.map((e) => [e.section_id, e.grade]), [[s, 'B+']]);
  f.close();
});

test('the registrar changes a grade and clears it with an empty one', async () => {
  const f = await setup();
  const s = await f.section();
  await enrollAll(f, s, [10]);
  await f.domain.setEnrollmentGrade(INSTRUCTOR, { section_id: s, user_id: 10, grade: 'I' });
  assert.equal((await f.domain.setEnrollmentGrade(REGISTRAR, { section_id: s, user_id: 10, grade: 'np' })).grade, 'NP');
  assert.equal((await f.domain.setEnrollmentGrade(REGISTRAR, { section_id: s, user_id: 10, grade: '' })).grade, '');
  assert.equal(gradeOf(f, 10, s), null);
  f.close();
});

test('an unknown grade is INVALID_ARGUMENT naming the field, and the stored grade stays', async () => {
  const f = await setup();
  const s = await f.section();
  await enrollAll(f, s, [10]);
  await f.domain.setEnrollmentGrade(INSTRUCTOR, { section_id: s, user_id: 10, grade: 'A' });
  for (const grade of ['E', 'A++', 'pass', '4.0']) {
    await rejectsWith(f.domain.setEnrollmentGrade(INSTRUCTOR, { section_id: s, user_id: 10, grade }), Status.INVALID_ARGUMENT, { field: 'grade' });
  }
  assert.equal(gradeOf(f, 10, s), 'A');
  f.close();
});

test('only the enrolled are graded: a dropped student is FAILED_PRECONDITION, a stranger NOT_FOUND', async () => {
  const f = await setup();
  const s = await f.section();
  await enrollAll(f, s, [10, 11]);
  await f.domain.dropUserEnrollment(student(11), { user_id: 11, section_id: s });
  await rejectsWith(f.domain.setEnrollmentGrade(INSTRUCTOR, { section_id: s, user_id: 11, grade: 'A' }), Status.FAILED_PRECONDITION, {
    message: /dropped/,
  });
  assert.equal(gradeOf(f, 11, s), null);
  await rejectsWith(f.domain.setEnrollmentGrade(INSTRUCTOR, { section_id: s, user_id: 12, grade: 'A' }), Status.NOT_FOUND);
  await rejectsWith(f.domain.setEnrollmentGrade(INSTRUCTOR, { section_id: s + 100, user_id: 10, grade: 'A' }), Status.NOT_FOUND);
  f.close();
});

test("another section's instructor and students may not grade", async () => {
  const f = await setup();
  const s = await f.section();
  await enrollAll(f, s, [10]);
  for (const actor of [OTHER_INSTRUCTOR, student(10), student(11)]) {
    await rejectsWith(f.domain.setEnrollmentGrade(actor, { section_id: s, user_id: 10, grade: 'A' }), Status.PERMISSION_DENIED);
  }
  assert.equal(gradeOf(f, 10, s), null);
  f.close();
});

test('a frozen section is still graded', async () => {
  const f = await setup();
  const s = await f.section();
  await enrollAll(f, s, [10]);
  await f.domain.updateSection(REGISTRAR, { section_id: s, frozen: true });
  assert.equal((await f.domain.setEnrollmentGrade(INSTRUCTOR, { section_id: s, user_id: 10, grade: 'P' })).grade, 'P');
  f.close();
});

test('a graded enrollment is not dropped by anyone, nor its section deleted, until the grade is cleared', async () => {
  const f = await setup();
  const s = await f.section({ capacity: 1 });
  await enrollAll(f, s, [10, 11]);
  await f.domain.setEnrollmentGrade(INSTRUCTOR, { section_id: s, user_id: 10, grade: 'C-' });

  await rejectsWith(f.domain.dropUserEnrollment(student(10), { user_id: 10, section_id: s }), Status.FAILED_PRECONDITION, { message: /grade/ });
  await rejectsWith(f.domain.dropUserEnrollment(REGISTRAR, { user_id: 10, section_id: s }), Status.FAILED_PRECONDITION, { message: /grade/ });
  await rejectsWith(f.domain.dropSectionEnrollment(INSTRUCTOR, { user_id: 10, section_id: s }), Status.FAILED_PRECONDITION, { message: /grade/ });
  await rejectsWith(f.domain.deleteSection(REGISTRAR, { section_id: s }), Status.FAILED_PRECONDITION, { message: /graded/ });
  // Nothing moved: the grade, the seat, the waitlist and the section are as they were.
  assert.equal(gradeOf(f, 10, s), 'C-');
  assert.equal(statusOf(f, 10, s), 'enrolled');
  assert.deepEqual(waitlistOf(f, s), [[11, 1]]);
  assert.equal((await f.domain.getSection(REGISTRAR, { section_id: s })).enrolled_count, 1);

  await f.domain.setEnrollmentGrade(REGISTRAR, { section_id: s, user_id: 10, grade: '' });
  const dropped = await f.domain.dropUserEnrollment(student(10), { user_id: 10, section_id: s });
  assert.deepEqual(dropped.promoted_user_ids, [11]);
  await f.domain.deleteSection(REGISTRAR, { section_id: s });
  f.close();
});

test("a grade is not cleared when the section, current again, would clash with the student's hours or pass their load", async () => {
  const f = await setup();
  const s = await f.section({ capacity: 5 }); // Monday 09:00-10:00
  await enrollAll(f, s, [10, 11]);
  await f.domain.setEnrollmentGrade(INSTRUCTOR, { section_id: s, user_id: 10, grade: 'A' });
  // Graded, s no longer holds 10's Monday morning: they take a section of another course then.
  const same = await f.section({ course_id: await f.course(), instructor_id: OTHER_INSTRUCTOR.userId });
  await enrollAll(f, same, [10]);
  const before = f.snapshot();
  await rejectsWith(f.domain.setEnrollmentGrade(REGISTRAR, { section_id: s, user_id: 10, grade: '' }), Status.FAILED_PRECONDITION, {
    message: new RegExp(`user 10 is enrolled in section ${same}, which meets with section ${s}: its grade stays`),
  });
  assert.equal(f.snapshot(), before);
  // Another grade is no obstacle, and after a drop of the other section the grade clears.
  assert.equal((await f.domain.setEnrollmentGrade(INSTRUCTOR, { section_id: s, user_id: 10, grade: 'B' })).grade, 'B');
  await f.domain.dropUserEnrollment(student(10), { user_id: 10, section_id: same });
  await f.domain.setEnrollmentGrade(REGISTRAR, { section_id: s, user_id: 10, grade: '' });
  assert.equal(gradeOf(f, 10, s), null);

  // A course is taken again after a grade in it, in another section; the
  // first grade then stays, or the student would take the course twice at once.
  await f.domain.setEnrollmentGrade(INSTRUCTOR, { section_id: s, user_id: 10, grade: 'D' });
  const retake = await f.section({ begin_time: '11:00', end_time: '12:00' });
  assert.equal((await f.domain.createEnrollment(student(10), { user_id: 10, section_id: retake })).status, 'enrolled');
  const retaking = f.snapshot();
  await rejectsWith(f.domain.setEnrollmentGrade(REGISTRAR, { section_id: s, user_id: 10, grade: '' }), Status.FAILED_PRECONDITION, {
    message: new RegExp(`user 10 takes CPSC 449 again in section ${retake}: the grade in section ${s} stays`),
  });
  assert.equal(f.snapshot(), retaking);
  await f.domain.dropUserEnrollment(student(10), { user_id: 10, section_id: retake });

  // The load: 11 finishes s (3 credits), then fills up to 18 with five more sections of 3.
  await f.domain.setEnrollmentGrade(INSTRUCTOR, { section_id: s, user_id: 11, grade: 'C' });
  const { department_id } = await f.domain.getCourse(REGISTRAR, { course_id: f.courseId });
  for (const day of ['Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday']) {
    const course = await f.domain.createCourse(REGISTRAR, { code: `DAY ${day}`, name: day, department_id, credits: 3 });
    await enrollAll(f, await f.section({ course_id: course.id, day }), [11]);
  }
  const full = f.snapshot();
  await rejectsWith(f.domain.setEnrollmentGrade(INSTRUCTOR, { section_id: s, user_id: 11, grade: '' }), Status.FAILED_PRECONDITION, {
    message: /user 11 carries 18 credits; CPSC 449 adds 3, past the limit of 18/,
  });
  assert.equal(f.snapshot(), full);
  assert.equal(gradeOf(f, 11, s), 'C');
  f.close();
});

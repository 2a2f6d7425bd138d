import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Status } from '../../../lib/errors.js';
import { enrollAll, INSTRUCTOR, OTHER_INSTRUCTOR, REGISTRAR, rejectsWith, setup, statusOf, student, waitlistOf } from './fixture.js';

test('a free seat enrolls the student', async () => {
  const f = await setup();
  const s = await f.section();
  const res = await f.domain.createEnrollment(student(10), { user_id: 10, section_id: s });
  assert.deepEqual(res, { user_id: 10, section_id: s, status: 'enrolled', position: 0, replaced_section_id: 0, promoted_user_ids: [], moved_to_section_id: 0 });
  assert.equal(statusOf(f, 10, s), 'enrolled');
  assert.equal((await f.domain.getSection(student(10), { section_id: s })).enrolled_count, 1);
  f.close();
});

test('a full section waitlists with positions 1..n in order of joining', async () => {
  const f = await setup();
  const s = await f.section({ capacity: 1 });
  const res = await enrollAll(f, s, [10, 11, 12, 13]);
  assert.deepEqual(res.map((r) => [r.status, r.position]), [['enrolled', 0], ['waitlisted', 1], ['waitlisted', 2], ['waitlisted', 3]]);
  assert.deepEqual(waitlistOf(f, s), [[11, 1], [12, 2], [13, 3]]);
  const section = await f.domain.getSection(student(10), { section_id: s });
  assert.equal(section.waitlist_count, 3);
  f.close();
});

test('a full section with a full waitlist refuses', async () => {
  const f = await setup();
  const s = await f.section({ capacity: 1, waitlist_capacity: 1 });
  await enrollAll(f, s, [10, 11]);
  await rejectsWith(f.domain.createEnrollment(student(12), { user_id: 12, section_id: s }), Status.FAILED_PRECONDITION, {
    message: /waitlist is full/,
  });
  assert.deepEqual(waitlistOf(f, s), [[11, 1]]);
  f.close();
});

test('a waitlist capacity of 0 means no waitlist', async () => {
  const f = await setup();
  const s = await f.section({ capacity: 1, waitlist_capacity: 0 });
  await enrollAll(f, s, [10]);
  await rejectsWith(f.domain.createEnrollment(student(11), { user_id: 11, section_id: s }), Status.FAILED_PRECONDITION);
  f.close();
});

test('a student may be on at most 3 waitlists of live sections', async () => {
  const f = await setup();
  const sections = [];
  for (let i = 0; i < 4; i++) {
    // Different days, so that the waitlists do not conflict with each other.
    const s = await f.section({ course_id: await f.course(), capacity: 1, day: ['Monday', 'Tuesday', 'Wednesday', 'Thursday'][i]! });
    await enrollAll(f, s, [20]);
    sections.push(s);
  }
  await enrollAll(f, sections[0]!, [10]);
  await enrollAll(f, sections[1]!, [10]);
  await enrollAll(f, sections[2]!, [10]);
  await rejectsWith(f.domain.createEnrollment(student(10), { user_id: 10, section_id: sections[3]! }), Status.FAILED_PRECONDITION, {
    message: /waitlist limit of 3/,
  });
  // A deleted section's waitlist no longer counts.
  await f.domain.deleteSection(REGISTRAR, { section_id: sections[0]! });
  const res = await f.domain.createEnrollment(student(10), { user_id: 10, section_id: sections[3]! });
  assert.equal(res.status, 'waitlisted');
  f.close();
});

test('a frozen section refuses enrolling and waitlisting', async () => {
  const f = await setup();
  const s = await f.section({ capacity: 1 });
  await f.domain.updateSection(REGISTRAR, { section_id: s, frozen: true });
  await rejectsWith(f.domain.createEnrollment(student(10), { user_id: 10, section_id: s }), Status.FAILED_PRECONDITION, {
    message: /frozen/,
  });
  f.close();
});

test('enrolling twice, or while waitlisted, is ALREADY_EXISTS', async () => {
  const f = await setup();
  const s = await f.section({ capacity: 1 });
  await enrollAll(f, s, [10, 11]);
  await rejectsWith(f.domain.createEnrollment(student(10), { user_id: 10, section_id: s }), Status.ALREADY_EXISTS);
  await rejectsWith(f.domain.createEnrollment(student(11), { user_id: 11, section_id: s }), Status.ALREADY_EXISTS);
  f.close();
});

test('a dropped enrollment can enroll again', async () => {
  const f = await setup();
  const s = await f.section();
  await enrollAll(f, s, [10]);
  await f.domain.dropUserEnrollment(student(10), { user_id: 10, section_id: s });
  assert.equal(statusOf(f, 10, s), 'dropped');
  const res = await f.domain.createEnrollment(student(10), { user_id: 10, section_id: s });
  assert.equal(res.status, 'enrolled');
  assert.equal(statusOf(f, 10, s), 'enrolled');
  f.close();
});

test('deleted and unknown sections, and unknown users, are NOT_FOUND', async () => {
  const f = await setup();
  const s = await f.section();
  await f.domain.deleteSection(REGISTRAR, { section_id: s });
  await rejectsWith(f.domain.createEnrollment(student(10), { user_id: 10, section_id: s }), Status.NOT_FOUND);
  await rejectsWith(f.domain.createEnrollment(student(10), { user_id: 10, section_id: 999 }), Status.NOT_FOUND);
  await rejectsWith(f.domain.createEnrollment(REGISTRAR, { user_id: 999, section_id: s }), Status.NOT_FOUND);
  f.close();
});

test('ids of zero or below are INVALID_ARGUMENT naming the field', async () => {
  const f = await setup();
  await rejectsWith(f.domain.createEnrollment(student(10), { user_id: 0, section_id: 1 }), Status.INVALID_ARGUMENT, { field: 'user_id' });
  await rejectsWith(f.domain.createEnrollment(student(10), { user_id: 10, section_id: -1 }), Status.INVALID_ARGUMENT, { field: 'section_id' });
  await rejectsWith(f.domain.getSection(student(10), { section_id: 0 }), Status.INVALID_ARGUMENT, { field: 'section_id' });
  await rejectsWith(f.domain.getCourse(student(10), {}), Status.INVALID_ARGUMENT, { field: 'course_id' });
  await rejectsWith(f.domain.getUser(REGISTRAR, { user_id: -5 }), Status.INVALID_ARGUMENT, { field: 'user_id' });
  await rejectsWith(f.domain.dropUserWaitlist(REGISTRAR, { user_id: 10, section_id: 0 }), Status.INVALID_ARGUMENT, { field: 'section_id' });
  f.close();
});

test('the registrar enrolls only students', async () => {
  const f = await setup();
  const s = await f.section();
  const res = await f.domain.createEnrollment(REGISTRAR, { user_id: 10, section_id: s });
  assert.equal(res.status, 'enrolled');
  await rejectsWith(f.domain.createEnrollment(REGISTRAR, { user_id: INSTRUCTOR.userId, section_id: s }), Status.FAILED_PRECONDITION, {
    message: /not a student/,
  });
  f.close();
});

test('a schedule conflict names the conflicting section', async () => {
  const f = await setup();
  const a = await f.section({ day: 'Monday', begin_time: '09:00', end_time: '10:00' });
  const overlapping = await f.section({ course_id: await f.course(), day: 'monday', begin_time: '09:30', end_time: '11:00', instructor_id: OTHER_INSTRUCTOR.userId });
  const adjacent = await f.section({ course_id: await f.course(), day: 'Monday', begin_time: '10:00', end_time: '11:00' });
  const otherDay = await f.section({ course_id: await f.course(), day: 'Tuesday', begin_time: '09:00', end_time: '10:00' });
  await enrollAll(f, a, [10]);
  await rejectsWith(f.domain.createEnrollment(student(10), { user_id: 10, section_id: overlapping }), Status.FAILED_PRECONDITION, {
    message: new RegExp(`schedule conflict with section ${a}\\b`),
  });
  // [begin, end): back to back is fine, and so is another day.
  assert.equal((await f.domain.createEnrollment(student(10), { user_id: 10, section_id: adjacent })).status, 'enrolled');
  assert.equal((await f.domain.createEnrollment(student(10), { user_id: 10, section_id: otherDay })).status, 'enrolled');
  // A dropped enrollment does not conflict.
  await f.domain.dropUserEnrollment(student(10), { user_id: 10, section_id: a });
  await f.domain.dropUserEnrollment(student(10), { user_id: 10, section_id: adjacent });
  assert.equal((await f.domain.createEnrollment(student(10), { user_id: 10, section_id: overlapping })).status, 'enrolled');
  f.close();
});

test('a schedule conflict also refuses joining a waitlist', async () => {
  const f = await setup();
  const a = await f.section({ begin_time: '09:00', end_time: '10:00' });
  const full = await f.section({ course_id: await f.course(), capacity: 1, begin_time: '08:00', end_time: '12:00', instructor_id: OTHER_INSTRUCTOR.userId });
  await enrollAll(f, full, [11]);
  await enrollAll(f, a, [10]);
  await rejectsWith(f.domain.createEnrollment(student(10), { user_id: 10, section_id: full }), Status.FAILED_PRECONDITION, {
    message: new RegExp(`section ${a}\\b`),
  });
  assert.deepEqual(waitlistOf(f, full), []);
  f.close();
});

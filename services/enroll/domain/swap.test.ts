import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Status } from '../../../lib/errors.js';
import { enrollAll, INSTRUCTOR, OTHER_INSTRUCTOR, REGISTRAR, rejectsWith, setup, statusOf, student, waitlistOf } from './fixture.js';

/** Student `userId` asks to trade `replacing` for `sectionId`. */
const swap = (f: Awaited<ReturnType<typeof setup>>, userId: number, sectionId: number, replacing: number, actor = student(userId)) =>
  f.domain.createEnrollment(actor, { user_id: userId, section_id: sectionId, replacing_section_id: replacing });

test('a swap trades a section for a free seat in another in one step; the seat given up goes to its waitlist', async () => {
  const f = await setup();
  const a = await f.section({ capacity: 1 }); // Monday 09:00-10:00
  const b = await f.section({ day: 'Tuesday' });
  await enrollAll(f, a, [10, 11]);
  assert.deepEqual(waitlistOf(f, a), [[11, 1]]);
  const res = await swap(f, 10, b, a);
  assert.deepEqual(res, { user_id: 10, section_id: b, status: 'enrolled', position: 0, replaced_section_id: a, promoted_user_ids: [11], moved_to_section_id: 0 });
  assert.equal(statusOf(f, 10, a), 'dropped');
  assert.equal(statusOf(f, 10, b), 'enrolled');
  assert.equal(statusOf(f, 11, a), 'enrolled');
  assert.deepEqual(waitlistOf(f, a), []);
  // The registrar swaps for a student too.
  const c = await f.section({ day: 'Wednesday' });
  assert.deepEqual((await swap(f, 10, c, b, REGISTRAR)).replaced_section_id, b);
  assert.deepEqual([statusOf(f, 10, b), statusOf(f, 10, c)], ['dropped', 'enrolled']);
  f.close();
});

test('the new section is judged without the one given up: its hours and its credits are free for it', async () => {
  const f = await setup();
  const a = await f.section({ capacity: 5 }); // Monday 09:00-10:00
  const overlapping = await f.section({ course_id: await f.course(), begin_time: '09:30', end_time: '10:30', instructor_id: OTHER_INSTRUCTOR.userId });
  await enrollAll(f, a, [10]);
  await rejectsWith(f.domain.createEnrollment(student(10), { user_id: 10, section_id: overlapping }), Status.FAILED_PRECONDITION, {
    message: new RegExp(`schedule conflict with section ${a}`),
  });
  assert.equal((await swap(f, 10, overlapping, a)).replaced_section_id, a);

  // Credits: 18 in three courses of 6; a fourth fits only in place of one.
  const { department_id } = await f.domain.getCourse(REGISTRAR, { course_id: f.courseId });
  const worthSix = async (day: string) => {
    const course = await f.domain.createCourse(REGISTRAR, { code: `SIX ${day}`, name: day, department_id, credits: 6 });
    return f.section({ course_id: course.id, day });
  };
  const [x, y, z, w] = [await worthSix('Tuesday'), await worthSix('Wednesday'), await worthSix('Thursday'), await worthSix('Friday')];
  await f.domain.dropUserEnrollment(student(10), { user_id: 10, section_id: overlapping });
  for (const s of [x!, y!, z!]) await enrollAll(f, s, [10]);
  await rejectsWith(f.domain.createEnrollment(student(10), { user_id: 10, section_id: w! }), Status.FAILED_PRECONDITION, { message: /carries 18 credits/ });
  assert.equal((await swap(f, 10, w!, x!)).status, 'enrolled');
  assert.deepEqual([statusOf(f, 10, x!), statusOf(f, 10, w!)], ['dropped', 'enrolled']);
  f.close();
});

test('a refused swap changes nothing: the student keeps the section they offered', async () => {
  const f = await setup();
  const a = await f.section({ capacity: 5 }); // Monday 09:00-10:00
  const full = await f.section({ capacity: 1, day: 'Tuesday' });
  const frozen = await f.section({ course_id: await f.course(), day: 'Wednesday' });
  const clashing = await f.section({ course_id: await f.course(), day: 'Thursday', instructor_id: OTHER_INSTRUCTOR.userId });
  const thursday = await f.section({ course_id: await f.course(), day: 'Thursday', begin_time: '09:30', end_time: '10:30' });
  const graded = await f.section({ course_id: await f.course(), day: 'Friday' });
  const notTaken = await f.section({ course_id: await f.course(), day: 'Saturday' });
  // Another section of the course of `clashing`, which 10 takes.
  const { course_id: clashingCourse } = await f.domain.getSection(REGISTRAR, { section_id: clashing });
  const sameAsClashing = await f.section({ course_id: clashingCourse, day: 'Sunday' });
  await enrollAll(f, full, [11]);
  await enrollAll(f, a, [10]);
  await enrollAll(f, clashing, [10]);
  await enrollAll(f, graded, [10]);
  await f.domain.setEnrollmentGrade(INSTRUCTOR, { section_id: graded, user_id: 10, grade: 'B' });
  await f.domain.updateSection(REGISTRAR, { section_id: frozen, frozen: true });
  const before = f.snapshot();

  const refusals: Array<[number, number, Status, RegExp]> = [
    [full, a, Status.FAILED_PRECONDITION, new RegExp(`section ${full} has no free seat; a swap does not wait, so user 10 keeps section ${a}`)],
    [frozen, a, Status.FAILED_PRECONDITION, /frozen/],
    // The clash is with a section other than the one given up.
    [thursday, a, Status.FAILED_PRECONDITION, new RegExp(`schedule conflict with section ${clashing}`)],
    [frozen, graded, Status.FAILED_PRECONDITION, new RegExp(`has a grade in section ${graded}`)],
    [frozen, notTaken, Status.NOT_FOUND, new RegExp(`enrollment of user 10 in section ${notTaken}`)],
    [frozen, 999, Status.NOT_FOUND, /999/],
    [clashing, a, Status.ALREADY_EXISTS, new RegExp(`already enrolled in section ${clashing}`)],
    // One section per course: a swap into a course the student takes replaces that section.
    [sameAsClashing, a, Status.FAILED_PRECONDITION, new RegExp(`takes .* in section ${clashing}; a swap replaces that section, not section ${a}`)],
  ];
  for (const [sectionId, replacing, status, message] of refusals) {
    await rejectsWith(swap(f, 10, sectionId, replacing), status, { message });
  }
  await rejectsWith(swap(f, 10, a, a), Status.INVALID_ARGUMENT, { field: 'replacing_section_id' });
  await rejectsWith(swap(f, 10, frozen, -1), Status.INVALID_ARGUMENT, { field: 'replacing_section_id' });
  await rejectsWith(swap(f, 11, frozen, full, student(10)), Status.PERMISSION_DENIED);
  assert.equal(f.snapshot(), before);
  f.close();
});

test('a student waiting for the section leaves its line when a swap seats them', async () => {
  const f = await setup();
  const b = await f.section({ capacity: 1 }); // Monday 09:00-10:00
  const c = await f.section({ course_id: await f.course(), begin_time: '09:30', end_time: '10:30', instructor_id: OTHER_INSTRUCTOR.userId });
  await enrollAll(f, b, [11, 10]);
  // Waitlists hold no hours: 10 takes c, which clashes with b, then b's seat frees and 10 is skipped.
  await enrollAll(f, c, [10]);
  await f.domain.dropUserEnrollment(student(11), { user_id: 11, section_id: b });
  assert.equal(statusOf(f, 10, b), undefined);
  assert.deepEqual(waitlistOf(f, b), [[10, 1]]);
  const res = await swap(f, 10, b, c);
  assert.deepEqual([res.status, res.replaced_section_id, res.promoted_user_ids], ['enrolled', c, []]);
  assert.deepEqual(waitlistOf(f, b), []);
  assert.deepEqual([statusOf(f, 10, b), statusOf(f, 10, c)], ['enrolled', 'dropped']);
  const events = (await f.domain.listUserEnrollmentEvents(student(10), { user_id: 10, page_size: 3 })).events;
  assert.deepEqual(events.map((e) => [e.action, e.section_id]), [['enrolled', b], ['left_waitlist', b], ['dropped', c]]);
  f.close();
});

test("a swap is an add and a drop: a student makes one only within the registration period, and meets the new course's prerequisites", async () => {
  const f = await setup();
  const a = await f.section({ capacity: 5 });
  const b = await f.section({ day: 'Tuesday' });
  await enrollAll(f, a, [10]);
  f.nowMs = Date.parse('2027-02-01T00:00:00Z');
  await f.domain.setRegistrationPeriod(REGISTRAR, { closes_at: '2027-01-24T17:00:00Z' });
  const before = f.snapshot();
  await rejectsWith(swap(f, 10, b, a), Status.FAILED_PRECONDITION, { message: /registration/ });
  assert.equal(f.snapshot(), before);
  await f.domain.setRegistrationPeriod(REGISTRAR, {});

  const { department_id } = await f.domain.getCourse(REGISTRAR, { course_id: f.courseId });
  const advanced = await f.domain.createCourse(REGISTRAR, { code: 'CPSC 549', name: 'Advanced', department_id });
  await f.domain.setCoursePrerequisites(REGISTRAR, { course_id: advanced.id, prerequisite_ids: [f.courseId] });
  const c = await f.section({ course_id: advanced.id, day: 'Wednesday' });
  await rejectsWith(swap(f, 10, c, a), Status.FAILED_PRECONDITION, { message: /CPSC 449/ });
  const waived = await f.domain.createEnrollment(REGISTRAR, { user_id: 10, section_id: c, replacing_section_id: a, waive_prerequisites: true });
  assert.deepEqual([waived.status, waived.replaced_section_id], ['enrolled', a]);
  f.close();
});

test('giving up the section that kept a student out of a seat they wait for gets them that seat too', async () => {
  const f = await setup();
  const d = await f.section({ capacity: 1, day: 'Tuesday' }); // 09:00-10:00
  const e = await f.section({ course_id: await f.course(), day: 'Tuesday', begin_time: '09:30', end_time: '10:30', instructor_id: OTHER_INSTRUCTOR.userId });
  const b = await f.section({ course_id: await f.course(), day: 'Wednesday' });
  await enrollAll(f, d, [11, 10]);
  await enrollAll(f, e, [10]);
  await f.domain.dropUserEnrollment(student(11), { user_id: 11, section_id: d });
  assert.equal(statusOf(f, 10, d), undefined, 'skipped while e clashes');
  await swap(f, 10, b, e);
  assert.deepEqual([statusOf(f, 10, b), statusOf(f, 10, e), statusOf(f, 10, d)], ['enrolled', 'dropped', 'enrolled']);
  assert.deepEqual(waitlistOf(f, d), []);
  f.close();
});

test('a swap whose freed hours get the student a seat they wait for in another section of the new course says where they are', async () => {
  const f = await setup();
  const course = await f.course();
  const waited = await f.section({ course_id: course, capacity: 1, day: 'Tuesday' }); // 09:00-10:00
  const asked = await f.section({ course_id: course, day: 'Wednesday' });
  const clash = await f.section({ day: 'Tuesday', begin_time: '09:30', end_time: '10:30', instructor_id: OTHER_INSTRUCTOR.userId });
  await enrollAll(f, waited, [11, 10]);
  await enrollAll(f, clash, [10]);
  await f.domain.dropUserEnrollment(student(11), { user_id: 11, section_id: waited });
  assert.equal(statusOf(f, 10, waited), undefined, 'skipped while the clash holds');
  const res = await swap(f, 10, asked, clash);
  assert.deepEqual([res.section_id, res.replaced_section_id, res.moved_to_section_id], [asked, clash, waited]);
  assert.deepEqual([statusOf(f, 10, waited), statusOf(f, 10, asked), statusOf(f, 10, clash)], ['enrolled', 'dropped', 'dropped']);
  const plain = await swap(f, 10, clash, waited);
  assert.equal(plain.moved_to_section_id, 0, 'a swap that stays where it asked');
  f.close();
});

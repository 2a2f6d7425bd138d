/**
 * A student takes a course in one section at a time. Changing sections is a
 * swap when the new one has a free seat, and a wait when it is full: the
 * promotion moves the student and gives the old seat to its own line.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Status } from '../../../lib/errors.js';
import { enrollAll, OTHER_INSTRUCTOR, REGISTRAR, rejectsWith, setup, statusOf, student, waitlistOf, type Fixture } from './fixture.js';

/** The user's events as [action, section, actor], newest first. */
const eventsOf = async (f: Fixture, userId: number) =>
  (await f.domain.listUserEnrollmentEvents(REGISTRAR, { user_id: userId })).events.map((e) => [e.action, e.section_id, e.actor_id]);

test('a seat in a second section of a course the student takes is refused, for the registrar too, and changes nothing; a swap makes the change', async () => {
  const f = await setup();
  const a = await f.section(); // Monday 09:00-10:00
  const b = await f.section({ day: 'Tuesday' });
  await enrollAll(f, a, [10]);
  const before = f.snapshot();
  for (const actor of [student(10), REGISTRAR]) {
    await rejectsWith(f.domain.createEnrollment(actor, { user_id: 10, section_id: b }), Status.FAILED_PRECONDITION, {
      message: new RegExp(`user 10 takes CPSC 449 in section ${a}; to change to section ${b}, enroll with replacing_section_id ${a}`),
    });
  }
  assert.equal(f.snapshot(), before);
  const swapped = await f.domain.createEnrollment(student(10), { user_id: 10, section_id: b, replacing_section_id: a });
  assert.deepEqual([swapped.status, swapped.replaced_section_id], ['enrolled', a]);
  assert.deepEqual([statusOf(f, 10, a), statusOf(f, 10, b)], ['dropped', 'enrolled']);
  f.close();
});

test('waiting for a full section of a course the student takes is a wait to change: the promotion moves them, and the seat they leave goes to its line', async () => {
  const f = await setup();
  const a = await f.section({ capacity: 1 }); // Monday 09:00-10:00
  // Its hours overlap a's: a is given up when w's seat comes, so that is no clash.
  const w = await f.section({ capacity: 1, begin_time: '09:30', end_time: '10:30', instructor_id: OTHER_INSTRUCTOR.userId });
  await enrollAll(f, a, [10, 11]);
  await enrollAll(f, w, [12]);
  const waiting = await f.domain.createEnrollment(student(10), { user_id: 10, section_id: w });
  assert.deepEqual([waiting.status, waiting.position], ['waitlisted', 1]);
  assert.equal(statusOf(f, 10, a), 'enrolled', 'the seat is kept while waiting');
  // The listings say which seat a promotion gives up (0 for a plain wait, as 11's for a).
  const mine = await f.domain.listUserWaitlist(student(10), { user_id: 10 });
  assert.deepEqual(mine.entries.map((e) => [e.section_id, e.replacing_section_id]), [[w, a]]);
  const lines = await f.domain.listCourseWaitlist(REGISTRAR, { course_id: f.courseId });
  assert.deepEqual(lines.entries.map((e) => [e.user_id, e.section_id, e.replacing_section_id]), [[11, a, 0], [10, w, a]]);
  const ofW = await f.domain.listSectionWaitlist(REGISTRAR, { section_id: w });
  assert.deepEqual(ofW.entries.map((e) => e.replacing_section_id), [a]);

  const dropped = await f.domain.dropUserEnrollment(student(12), { user_id: 12, section_id: w });
  assert.deepEqual(dropped.promoted_user_ids, [10]);
  assert.deepEqual([statusOf(f, 10, a), statusOf(f, 10, w)], ['dropped', 'enrolled']);
  assert.equal(statusOf(f, 11, a), 'enrolled', "a's seat went to the first in its line");
  assert.deepEqual([waitlistOf(f, a), waitlistOf(f, w)], [[], []]);
  assert.deepEqual((await eventsOf(f, 10)).slice(0, 2), [
    ['promoted', w, 0],
    ['dropped', a, 0],
  ]);
  assert.deepEqual((await eventsOf(f, 11))[0], ['promoted', a, 0]);
  f.close();
});

test('a wait to change sections needs no room in the load: the credits of the seat given up pay for the new one', async () => {
  const f = await setup();
  const a = await f.section({ capacity: 5 }); // Monday 09:00-10:00, 3 credits
  const w = await f.section({ capacity: 1, day: 'Sunday' });
  await enrollAll(f, w, [11]);
  await enrollAll(f, a, [10]);
  for (const day of ['Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday']) {
    await enrollAll(f, await f.section({ course_id: await f.course(), day }), [10]);
  }
  // 18 credits: no other course fits, but a's other section does, in a's place.
  const otherCourse = await f.section({ course_id: await f.course(), capacity: 1, day: 'Sunday', begin_time: '12:00', end_time: '13:00' });
  await rejectsWith(f.domain.createEnrollment(student(10), { user_id: 10, section_id: otherCourse }), Status.FAILED_PRECONDITION, {
    message: /carries 18 credits/,
  });
  assert.equal((await f.domain.createEnrollment(student(10), { user_id: 10, section_id: w })).status, 'waitlisted');
  await f.domain.dropUserEnrollment(student(11), { user_id: 11, section_id: w });
  assert.deepEqual([statusOf(f, 10, a), statusOf(f, 10, w)], ['dropped', 'enrolled']);
  f.close();
});

test('a swap into a full section of the same course says how to wait for it instead', async () => {
  const f = await setup();
  const a = await f.section();
  const full = await f.section({ capacity: 1, day: 'Tuesday' });
  await enrollAll(f, full, [11]);
  await enrollAll(f, a, [10]);
  const before = f.snapshot();
  await rejectsWith(f.domain.createEnrollment(student(10), { user_id: 10, section_id: full, replacing_section_id: a }), Status.FAILED_PRECONDITION, {
    message: new RegExp(`no free seat; a swap does not wait, so user 10 keeps section ${a}; to wait for one in its place, enroll without replacing_section_id`),
  });
  assert.equal(f.snapshot(), before);
  f.close();
});

test('a student in two lines of one course takes the first seat freed, then still waits to change to the other', async () => {
  const f = await setup();
  const x = await f.section({ capacity: 1 });
  const y = await f.section({ capacity: 1, day: 'Tuesday' });
  await enrollAll(f, x, [11, 10]);
  await enrollAll(f, y, [12, 10]);
  await f.domain.dropUserEnrollment(student(11), { user_id: 11, section_id: x });
  assert.deepEqual([statusOf(f, 10, x), waitlistOf(f, y)], ['enrolled', [[10, 1]]]);
  // A seat in y moves 10 there; x's seat stays free, no one waits for it.
  await f.domain.dropUserEnrollment(student(12), { user_id: 12, section_id: y });
  assert.deepEqual([statusOf(f, 10, x), statusOf(f, 10, y)], ['dropped', 'enrolled']);
  assert.equal((await f.domain.getSection(REGISTRAR, { section_id: x })).enrolled_count, 0);
  // Leaving a line is how a student who is content stays put.
  await enrollAll(f, x, [13, 10]);
  await f.domain.dropUserWaitlist(student(10), { user_id: 10, section_id: x });
  await f.domain.dropUserEnrollment(student(13), { user_id: 13, section_id: x });
  assert.deepEqual([statusOf(f, 10, x), statusOf(f, 10, y)], ['dropped', 'enrolled']);
  f.close();
});

test('moves chain: a seat given up by a move goes to a student who waits to change into it', async () => {
  const f = await setup();
  const [p, q, r] = [await f.section({ capacity: 1 }), await f.section({ capacity: 1, day: 'Tuesday' }), await f.section({ capacity: 1, day: 'Wednesday' })];
  await enrollAll(f, p, [10]);
  await enrollAll(f, q, [11]);
  await enrollAll(f, r, [12]);
  await enrollAll(f, q, [10]); // 10 waits to move p -> q
  await enrollAll(f, p, [13]); // 13, in no section, waits for p
  await enrollAll(f, r, [11]); // 11 waits to move q -> r
  // 12 leaves r: 11 moves to r, 10 to q, and 13 takes p.
  await f.domain.dropUserEnrollment(student(12), { user_id: 12, section_id: r });
  assert.deepEqual([statusOf(f, 11, r), statusOf(f, 10, q), statusOf(f, 13, p)], ['enrolled', 'enrolled', 'enrolled']);
  assert.deepEqual([statusOf(f, 11, q), statusOf(f, 10, p)], ['dropped', 'dropped']);
  assert.deepEqual([waitlistOf(f, p), waitlistOf(f, q), waitlistOf(f, r)], [[], [], []]);
  f.close();
});

test('a grade ends the wait to change to another section of its course: the student leaves that line', async () => {
  const f = await setup();
  const a = await f.section();
  const full = await f.section({ capacity: 1, day: 'Tuesday' });
  const otherCourse = await f.section({ course_id: await f.course(), capacity: 1, day: 'Wednesday' });
  await enrollAll(f, full, [11]);
  await enrollAll(f, otherCourse, [12]);
  await enrollAll(f, a, [10]);
  await enrollAll(f, full, [10]);
  await enrollAll(f, otherCourse, [10]);
  await f.domain.setEnrollmentGrade(REGISTRAR, { section_id: a, user_id: 10, grade: 'B' });
  assert.deepEqual([waitlistOf(f, full), waitlistOf(f, otherCourse)], [[], [[10, 1]]], 'only the wait in the graded course ends');
  assert.deepEqual((await eventsOf(f, 10)).slice(0, 2), [
    ['left_waitlist', full, 0],
    ['graded', a, REGISTRAR.userId],
  ]);
  // So a seat freed there later is no retake nobody asked for.
  await f.domain.dropUserEnrollment(student(11), { user_id: 11, section_id: full });
  assert.equal(statusOf(f, 10, full), undefined);
  f.close();
});

test("a move frees the hours of the seat given up: a free seat the mover waits for, which those hours kept from them, is theirs", async () => {
  const f = await setup();
  const t = await f.section({ capacity: 1 }); // Monday 09:00-10:00
  const s = await f.section({ capacity: 1, day: 'Tuesday' });
  const x = await f.section({ course_id: await f.course(), capacity: 1, begin_time: '09:30', end_time: '10:30', instructor_id: OTHER_INSTRUCTOR.userId });
  await enrollAll(f, x, [12, 10]); // 10 waits for x while free on Monday morning
  await enrollAll(f, t, [10]); // a waitlist holds no hours
  await enrollAll(f, s, [11, 10]); // 10 waits to move t -> s
  await f.domain.dropUserEnrollment(student(12), { user_id: 12, section_id: x });
  assert.equal(statusOf(f, 10, x), undefined, 'skipped: t clashes with x');
  await f.domain.dropUserEnrollment(student(11), { user_id: 11, section_id: s });
  assert.deepEqual([statusOf(f, 10, t), statusOf(f, 10, s), statusOf(f, 10, x)], ['dropped', 'enrolled', 'enrolled']);
  f.close();
});

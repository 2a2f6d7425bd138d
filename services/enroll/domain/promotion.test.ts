import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Status } from '../../../lib/errors.js';
import { enrollAll, type Fixture, INSTRUCTOR, OTHER_INSTRUCTOR, REGISTRAR, rejectsWith, setup, statusOf, student, waitlistOf } from './fixture.js';

/** A one-seat section 09:00–10:00, and a roomy one at 09:30–10:30 that clashes with it. */
async function oneSeatAndAClash(f: Fixture): Promise<{ s: number; clash: number }> {
  const s = await f.section({ capacity: 1, begin_time: '09:00', end_time: '10:00' });
  const clash = await f.section({ course_id: await f.course(), capacity: 5, begin_time: '09:30', end_time: '10:30', instructor_id: OTHER_INSTRUCTOR.userId });
  return { s, clash };
}

test('dropping promotes the first waitlisted student and closes up positions', async () => {
  const f = await setup();
  const s = await f.section({ capacity: 1 });
  await enrollAll(f, s, [10, 11, 12, 13]);
  const res = await f.domain.dropUserEnrollment(student(10), { user_id: 10, section_id: s });
  assert.deepEqual(res, { user_id: 10, section_id: s, promoted_user_ids: [11] });
  assert.equal(statusOf(f, 10, s), 'dropped');
  assert.equal(statusOf(f, 11, s), 'enrolled');
  assert.deepEqual(waitlistOf(f, s), [[12, 1], [13, 2]]);
  f.close();
});

test('promotion skips a student with a schedule conflict, who keeps their place', async () => {
  const f = await setup();
  const { s, clash } = await oneSeatAndAClash(f);
  await enrollAll(f, s, [10, 11, 12, 13]);
  // 11 enrolls in a clashing section while waiting for s.
  await enrollAll(f, clash, [11]);
  const res = await f.domain.dropUserEnrollment(REGISTRAR, { user_id: 10, section_id: s });
  assert.deepEqual(res.promoted_user_ids, [12]);
  assert.deepEqual(waitlistOf(f, s), [[11, 1], [13, 2]]);
  assert.equal(statusOf(f, 11, s), undefined);
  f.close();
});

/** The one seat of s freed while the only student waiting for it, 11, is enrolled in the clashing section. */
async function seatFreeWhileTheOneWaitingClashes(): Promise<{ f: Fixture; s: number; clash: number }> {
  const f = await setup();
  const { s, clash } = await oneSeatAndAClash(f);
  await enrollAll(f, s, [10, 11]);
  await enrollAll(f, clash, [11]);
  const res = await f.domain.dropUserEnrollment(student(10), { user_id: 10, section_id: s });
  assert.deepEqual(res.promoted_user_ids, [], '11 clashes and no one else waits: the seat stays free');
  assert.deepEqual(waitlistOf(f, s), [[11, 1]], '11 keeps their place');
  return { f, s, clash };
}

test('a student skipped for a conflict gets the seat left free once they drop the clashing section', async () => {
  const { f, s, clash } = await seatFreeWhileTheOneWaitingClashes();
  // Dropping the clash is what frees them: they take the seat before anyone else can.
  const dropped = await f.domain.dropUserEnrollment(student(11), { user_id: 11, section_id: clash });
  assert.deepEqual(dropped.promoted_user_ids, [], 'the clashing section had no waitlist');
  assert.equal(statusOf(f, 11, s), 'enrolled');
  assert.equal(statusOf(f, 11, clash), 'dropped');
  assert.deepEqual(waitlistOf(f, s), []);
  const late = await f.domain.createEnrollment(student(12), { user_id: 12, section_id: s });
  assert.equal(late.status, 'waitlisted', 'a newcomer no longer finds the seat free');
  f.close();
});

test('the first in line who fits gets a seat freed while others clashed, when a clash is dropped', async () => {
  const f = await setup();
  const { s, clash } = await oneSeatAndAClash(f);
  await enrollAll(f, s, [10, 11, 12]);
  await enrollAll(f, clash, [11, 12]);
  await f.domain.dropUserEnrollment(student(10), { user_id: 10, section_id: s });
  assert.deepEqual(waitlistOf(f, s), [[11, 1], [12, 2]]);
  // 12 drops the clash first, but 11 is still ahead in line and still clashes: 12 gets it.
  await f.domain.dropUserEnrollment(student(12), { user_id: 12, section_id: clash });
  assert.equal(statusOf(f, 12, s), 'enrolled');
  assert.deepEqual(waitlistOf(f, s), [[11, 1]]);
  // Now s is full: 11 dropping the clash only leaves them first in line.
  await f.domain.dropUserEnrollment(student(11), { user_id: 11, section_id: clash });
  assert.equal(statusOf(f, 11, s), undefined);
  assert.deepEqual(waitlistOf(f, s), [[11, 1]]);
  f.close();
});

test('deleting a clashing section promotes its students where they wait', async () => {
  const { f, s, clash } = await seatFreeWhileTheOneWaitingClashes();
  await f.domain.deleteSection(REGISTRAR, { section_id: clash });
  assert.equal(statusOf(f, 11, s), 'enrolled');
  assert.deepEqual(waitlistOf(f, s), []);
  f.close();
});

test('promotion fills every free seat when the capacity is raised', async () => {
  const f = await setup();
  const s = await f.section({ capacity: 1 });
  await enrollAll(f, s, [10, 11, 12, 13, 14]);
  const section = await f.domain.updateSection(REGISTRAR, { section_id: s, capacity: 3 });
  assert.equal(section.enrolled_count, 3);
  assert.equal(section.waitlist_count, 2);
  assert.equal(statusOf(f, 11, s), 'enrolled');
  assert.equal(statusOf(f, 12, s), 'enrolled');
  assert.deepEqual(waitlistOf(f, s), [[13, 1], [14, 2]]);
  f.close();
});

test('a frozen section promotes no one until it is unfrozen', async () => {
  const f = await setup();
  const s = await f.section({ capacity: 1 });
  await enrollAll(f, s, [10, 11]);
  await f.domain.updateSection(REGISTRAR, { section_id: s, frozen: true });
  const res = await f.domain.dropUserEnrollment(student(10), { user_id: 10, section_id: s });
  assert.deepEqual(res.promoted_user_ids, []);
  assert.deepEqual(waitlistOf(f, s), [[11, 1]]);
  const section = await f.domain.updateSection(REGISTRAR, { section_id: s, frozen: false });
  assert.equal(section.frozen, false);
  assert.equal(statusOf(f, 11, s), 'enrolled');
  assert.deepEqual(waitlistOf(f, s), []);
  f.close();
});

test("the section's instructor drops a student and the waitlist moves up", async () => {
  const f = await setup();
  const s = await f.section({ capacity: 1 });
  await enrollAll(f, s, [10, 11]);
  await rejectsWith(f.domain.dropSectionEnrollment(OTHER_INSTRUCTOR, { section_id: s, user_id: 10 }), Status.PERMISSION_DENIED);
  const res = await f.domain.dropSectionEnrollment(INSTRUCTOR, { section_id: s, user_id: 10 });
  assert.deepEqual(res.promoted_user_ids, [11]);
  f.close();
});

test('dropping what is not an active enrollment is NOT_FOUND', async () => {
  const f = await setup();
  const s = await f.section();
  await rejectsWith(f.domain.dropUserEnrollment(student(10), { user_id: 10, section_id: s }), Status.NOT_FOUND);
  await enrollAll(f, s, [10]);
  await f.domain.dropUserEnrollment(student(10), { user_id: 10, section_id: s });
  await rejectsWith(f.domain.dropUserEnrollment(student(10), { user_id: 10, section_id: s }), Status.NOT_FOUND);
  f.close();
});

test('leaving a waitlist closes up the positions behind', async () => {
  const f = await setup();
  const s = await f.section({ capacity: 1 });
  await enrollAll(f, s, [10, 11, 12, 13, 14]);
  const res = await f.domain.dropUserWaitlist(student(12), { user_id: 12, section_id: s });
  assert.deepEqual(res, { user_id: 12, section_id: s, promoted_user_ids: [] });
  assert.deepEqual(waitlistOf(f, s), [[11, 1], [13, 2], [14, 3]]);
  // Joining again goes to the back.
  const again = await f.domain.createEnrollment(student(12), { user_id: 12, section_id: s });
  assert.equal(again.position, 4);
  await f.domain.dropUserWaitlist(REGISTRAR, { user_id: 11, section_id: s });
  assert.deepEqual(waitlistOf(f, s), [[13, 1], [14, 2], [12, 3]]);
  await rejectsWith(f.domain.dropUserWaitlist(student(11), { user_id: 11, section_id: s }), Status.NOT_FOUND);
  f.close();
});

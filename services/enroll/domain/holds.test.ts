import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Status } from '../../../lib/errors.js';
import { enrollAll, INSTRUCTOR, REGISTRAR, rejectsWith, setup, statusOf, student, waitlistOf } from './fixture.js';

test('a held student adds nothing themself: no seat, no line, no swap; the answer gives the reason, and nothing changes', async () => {
  const f = await setup();
  const open = await f.section({ capacity: 5 });
  const full = await f.section({ capacity: 1, day: 'Tuesday', course_id: await f.course() });
  const other = await f.section({ capacity: 5, day: 'Wednesday', course_id: await f.course() });
  await enrollAll(f, full, [11]);
  await enrollAll(f, other, [10]);
  const hold = await f.domain.createUserHold(REGISTRAR, { user_id: 10, reason: 'tuition unpaid' });
  assert.equal(hold.user_id, 10);
  assert.equal(hold.reason, 'tuition unpaid');
  assert.equal(hold.placed_by, REGISTRAR.userId);
  assert.match(hold.placed_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.deepEqual([hold.released_at, hold.released_by], ['', 0]);

  const before = f.snapshot();
  for (const req of [
    { user_id: 10, section_id: open },
    { user_id: 10, section_id: full },
    { user_id: 10, section_id: open, replacing_section_id: other },
  ]) {
    await rejectsWith(f.domain.createEnrollment(student(10), req), Status.FAILED_PRECONDITION, { message: /user 10 has a registration hold \(tuition unpaid\)/ });
  }
  assert.equal(f.snapshot(), before);
  assert.deepEqual(
    (await f.domain.listUserHolds(student(10), { user_id: 10 })).holds.map((h) => [h.id, h.reason]),
    [[hold.id, 'tuition unpaid']],
    'the student sees why',
  );
  assert.deepEqual((await f.domain.listUserHolds(REGISTRAR, { user_id: 11 })).holds, []);
  f.close();
});

test('a held student keeps what they have: they drop and leave lines; the registrar may still enroll them', async () => {
  const f = await setup();
  const a = await f.section({ capacity: 5 });
  const full = await f.section({ capacity: 1, day: 'Tuesday', course_id: await f.course() });
  const b = await f.section({ capacity: 5, day: 'Wednesday', course_id: await f.course() });
  await enrollAll(f, a, [10]);
  await enrollAll(f, full, [11, 10]);
  await f.domain.createUserHold(REGISTRAR, { user_id: 10, reason: 'missing immunization form' });
  await f.domain.dropUserWaitlist(student(10), { user_id: 10, section_id: full });
  await f.domain.dropUserEnrollment(student(10), { user_id: 10, section_id: a });
  assert.equal(statusOf(f, 10, a), 'dropped');
  assert.deepEqual(waitlistOf(f, full), []);
  const byRegistrar = await f.domain.createEnrollment(REGISTRAR, { user_id: 10, section_id: b });
  assert.equal(byRegistrar.status, 'enrolled');
  f.close();
});

test('a promotion skips a held student, who keeps their place; releasing the last hold walks their lines', async () => {
  const f = await setup();
  const s = await f.section({ capacity: 1 });
  await enrollAll(f, s, [11, 10, 12]);
  assert.deepEqual(waitlistOf(f, s), [[10, 1], [12, 2]]);
  const first = await f.domain.createUserHold(REGISTRAR, { user_id: 10, reason: 'fees' });
  const second = await f.domain.createUserHold(REGISTRAR, { user_id: 10, reason: 'advising' });

  const dropped = await f.domain.dropUserEnrollment(student(11), { user_id: 11, section_id: s });
  assert.deepEqual(dropped.promoted_user_ids, [12], 'the seat goes past the held student');
  assert.deepEqual(waitlistOf(f, s), [[10, 1]], 'who keeps their place');
  await f.domain.dropSectionEnrollment(INSTRUCTOR, { section_id: s, user_id: 12 });
  assert.equal(statusOf(f, 10, s), undefined, 'still held: the seat stays free');

  const released = await f.domain.deleteUserHold(REGISTRAR, { user_id: 10, hold_id: first.id });
  assert.equal(released.released_by, REGISTRAR.userId);
  assert.match(released.released_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.equal(statusOf(f, 10, s), undefined, 'one hold left');
  assert.deepEqual((await f.domain.listUserHolds(REGISTRAR, { user_id: 10 })).holds.map((h) => h.reason), ['advising'], 'a released hold is not listed');

  await f.domain.deleteUserHold(REGISTRAR, { user_id: 10, hold_id: second.id });
  assert.equal(statusOf(f, 10, s), 'enrolled', 'the last hold released, the free seat is theirs');
  assert.deepEqual(waitlistOf(f, s), []);
  const events = await f.domain.listUserEnrollmentEvents(REGISTRAR, { user_id: 10 });
  assert.deepEqual(
    events.events.map((e) => [e.action, e.actor_id]).slice(0, 1),
    [['promoted', 0]],
    'the service promoted them',
  );
  f.close();
});

test('refused: a hold on a non-student or an unknown user, an empty or long reason, releasing a hold twice or through another user', async () => {
  const f = await setup();
  const hold = await f.domain.createUserHold(REGISTRAR, { user_id: 10, reason: 'fees' });
  const before = f.snapshot();
  await rejectsWith(f.domain.createUserHold(REGISTRAR, { user_id: INSTRUCTOR.userId, reason: 'fees' }), Status.FAILED_PRECONDITION, { message: /not a student/ });
  await rejectsWith(f.domain.createUserHold(REGISTRAR, { user_id: 999, reason: 'fees' }), Status.NOT_FOUND);
  await rejectsWith(f.domain.createUserHold(REGISTRAR, { user_id: 10, reason: '' }), Status.INVALID_ARGUMENT, { field: 'reason' });
  await rejectsWith(f.domain.createUserHold(REGISTRAR, { user_id: 10, reason: 'x'.repeat(201) }), Status.INVALID_ARGUMENT, { field: 'reason' });
  await rejectsWith(f.domain.deleteUserHold(REGISTRAR, { user_id: 11, hold_id: hold.id }), Status.NOT_FOUND);
  await rejectsWith(f.domain.deleteUserHold(REGISTRAR, { user_id: 10, hold_id: 999 }), Status.NOT_FOUND);
  await rejectsWith(f.domain.deleteUserHold(REGISTRAR, { user_id: 10 }), Status.INVALID_ARGUMENT, { field: 'hold_id' });
  await rejectsWith(f.domain.listUserHolds(student(11), { user_id: 10 }), Status.PERMISSION_DENIED);
  assert.equal(f.snapshot(), before);
  await f.domain.deleteUserHold(REGISTRAR, { user_id: 10, hold_id: hold.id });
  await rejectsWith(f.domain.deleteUserHold(REGISTRAR, { user_id: 10, hold_id: hold.id }), Status.NOT_FOUND, { message: /active hold/ });
  f.close();
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Status } from '../../../lib/errors.js';
import { enrollAll, INSTRUCTOR, OTHER_INSTRUCTOR, REGISTRAR, rejectsWith, setup, statusOf, student, waitlistOf } from './fixture.js';

test('the registrar moves a section: only the parts sent change, normalised; a time that ends before it begins is refused', async () => {
  const f = await setup();
  const s = await f.section(); // Monday 09:00-10:00
  const moved = await f.domain.updateSection(REGISTRAR, { section_id: s, day: 'friday', begin_time: '13:00', end_time: '14:30' });
  assert.deepEqual([moved.day, moved.begin_time, moved.end_time], ['Friday', '13:00', '14:30']);
  const longer = await f.domain.updateSection(REGISTRAR, { section_id: s, end_time: '15:00' });
  assert.deepEqual([longer.day, longer.begin_time, longer.end_time], ['Friday', '13:00', '15:00']);
  const before = f.snapshot();
  await rejectsWith(f.domain.updateSection(REGISTRAR, { section_id: s, begin_time: '15:00' }), Status.INVALID_ARGUMENT, { field: 'end_time' });
  await rejectsWith(f.domain.updateSection(REGISTRAR, { section_id: s, day: 'Someday' }), Status.INVALID_ARGUMENT, { field: 'day' });
  await rejectsWith(f.domain.updateSection(REGISTRAR, { section_id: s, end_time: '25:00' }), Status.INVALID_ARGUMENT, { field: 'end_time' });
  await rejectsWith(f.domain.updateSection(INSTRUCTOR, { section_id: s, day: 'Monday' }), Status.PERMISSION_DENIED);
  assert.equal(f.snapshot(), before);
  f.close();
});

test('a section does not move onto a time when one of its students is in another section; a graded one is no obstacle', async () => {
  const f = await setup();
  const s = await f.section({ capacity: 5 }); // Monday 09:00-10:00
  const tuesday = await f.section({ course_id: await f.course(), day: 'Tuesday', begin_time: '10:00', end_time: '11:00', instructor_id: OTHER_INSTRUCTOR.userId });
  await enrollAll(f, s, [10, 11]);
  await enrollAll(f, tuesday, [11]);
  const before = f.snapshot();
  await rejectsWith(f.domain.updateSection(REGISTRAR, { section_id: s, day: 'Tuesday', begin_time: '10:30', end_time: '11:30' }), Status.FAILED_PRECONDITION, {
    message: new RegExp(`user 11 is enrolled in section ${tuesday}, which meets then`),
  });
  assert.equal(f.snapshot(), before);
  // Back to back is no clash.
  await f.domain.updateSection(REGISTRAR, { section_id: s, day: 'Tuesday', begin_time: '11:00', end_time: '12:00' });
  // Once graded in the Tuesday section, student 11 is free at its hours.
  await f.domain.setEnrollmentGrade(OTHER_INSTRUCTOR, { section_id: tuesday, user_id: 11, grade: 'A' });
  const onto = await f.domain.updateSection(REGISTRAR, { section_id: s, begin_time: '10:00', end_time: '11:00' });
  assert.deepEqual([onto.day, onto.begin_time], ['Tuesday', '10:00']);
  f.close();
});

test("moving a section frees its students' old hours: where they wait, they are promoted; a waiting student who now clashes keeps their place", async () => {
  const f = await setup();
  const s = await f.section({ capacity: 5 }); // Monday 09:00-10:00
  const full = await f.section({ course_id: await f.course(), capacity: 1, begin_time: '09:30', end_time: '10:30', instructor_id: OTHER_INSTRUCTOR.userId }); // clashes with s
  const thursday = await f.section({ course_id: await f.course(), capacity: 1, day: 'Thursday', instructor_id: OTHER_INSTRUCTOR.userId }); // 09:00-10:00
  await enrollAll(f, full, [12]);
  await enrollAll(f, thursday, [13]);
  // 11 waits for both full sections, then enrolls in s (a waitlist holds no hours, so that is allowed).
  await enrollAll(f, full, [11]);
  await enrollAll(f, thursday, [11]);
  await enrollAll(f, s, [11]);
  await f.domain.dropUserEnrollment(student(12), { user_id: 12, section_id: full });
  assert.equal(statusOf(f, 11, full), undefined, 'skipped while s clashes');
  // Moving s to Thursday morning frees 11's Monday: the free seat of `full` goes to them.
  await f.domain.updateSection(REGISTRAR, { section_id: s, day: 'Thursday' });
  assert.equal(statusOf(f, 11, full), 'enrolled');
  assert.deepEqual(waitlistOf(f, full), []);
  // On Thursday, s now clashes with the Thursday section 11 waits for: they are skipped there and keep their place.
  await f.domain.dropUserEnrollment(student(13), { user_id: 13, section_id: thursday });
  assert.equal(statusOf(f, 11, thursday), undefined);
  assert.deepEqual(waitlistOf(f, thursday), [[11, 1]]);
  f.close();
});

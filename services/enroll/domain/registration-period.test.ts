import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Status } from '../../../lib/errors.js';
import { enrollAll, INSTRUCTOR, REGISTRAR, rejectsWith, setup, statusOf, student, waitlistOf } from './fixture.js';

const OPENS = '2027-01-10T08:00:00Z';
const CLOSES = '2027-01-24T17:00:00Z';
const at = (iso: string, deltaMs = 0) => Date.parse(iso) + deltaMs;

test('with no period set, registration is open; the registrar sets one, normalised to UTC, and anyone reads it', async () => {
  const f = await setup();
  assert.deepEqual(await f.domain.getRegistrationPeriod(student(10), {}), { opens_at: '', closes_at: '', open: true });
  f.nowMs = at('2027-01-01T00:00:00Z');
  const set = await f.domain.setRegistrationPeriod(REGISTRAR, { opens_at: '2027-01-10T00:00:00-08:00', closes_at: '2027-01-24T17:00:00.000z' });
  assert.deepEqual(set, { opens_at: OPENS, closes_at: CLOSES, open: false });
  for (const actor of [student(10), INSTRUCTOR]) {
    assert.deepEqual(await f.domain.getRegistrationPeriod(actor, {}), { opens_at: OPENS, closes_at: CLOSES, open: false });
  }
  f.nowMs = at(OPENS);
  assert.equal((await f.domain.getRegistrationPeriod(student(10), {})).open, true, 'open from opens_at');
  f.nowMs = at(CLOSES);
  assert.equal((await f.domain.getRegistrationPeriod(student(10), {})).open, false, 'closed at closes_at');
  // One bound only, then none.
  assert.deepEqual(await f.domain.setRegistrationPeriod(REGISTRAR, { closes_at: '2027-02-01T00:00:00Z' }), {
    opens_at: '',
    closes_at: '2027-02-01T00:00:00Z',
    open: true,
  });
  // A leap day is a real day.
  assert.equal((await f.domain.setRegistrationPeriod(REGISTRAR, { closes_at: '2028-02-29T12:00:00+02:00' })).closes_at, '2028-02-29T10:00:00Z');
  assert.deepEqual(await f.domain.setRegistrationPeriod(REGISTRAR, {}), { opens_at: '', closes_at: '', open: true });
  f.close();
});

test('bad periods are INVALID_ARGUMENT naming the field, and only the registrar sets one; the stored period stays', async () => {
  const f = await setup();
  await f.domain.setRegistrationPeriod(REGISTRAR, { opens_at: OPENS, closes_at: CLOSES });
  const before = f.snapshot();
  const bads = ['tomorrow', '2027-01-10', '2027-01-10T08:00:00', '2027-13-10T08:00:00Z', '2027-01-10 08:00:00Z'];
  // Date.parse would roll these over into the next day or month.
  bads.push('2027-02-29T08:00:00Z', '2027-04-31T08:00:00Z', '2027-01-10T24:00:00Z', '2027-01-10T08:00:00+24:00');
  for (const bad of bads) {
    await rejectsWith(f.domain.setRegistrationPeriod(REGISTRAR, { opens_at: bad }), Status.INVALID_ARGUMENT, { field: 'opens_at' });
  }
  await rejectsWith(f.domain.setRegistrationPeriod(REGISTRAR, { opens_at: CLOSES, closes_at: OPENS }), Status.INVALID_ARGUMENT, { field: 'closes_at' });
  await rejectsWith(f.domain.setRegistrationPeriod(REGISTRAR, { opens_at: OPENS, closes_at: OPENS }), Status.INVALID_ARGUMENT, { field: 'closes_at' });
  for (const actor of [student(10), INSTRUCTOR]) {
    await rejectsWith(f.domain.setRegistrationPeriod(actor, {}), Status.PERMISSION_DENIED);
  }
  assert.equal(f.snapshot(), before);
  f.close();
});

test('outside the period a student neither enrolls nor drops; the registrar does both, and nothing else is bound by it', async () => {
  const f = await setup();
  const s = await f.section({ capacity: 1 });
  f.nowMs = at(OPENS, -1000);
  await enrollAll(f, s, [10, 11]); // before any period is set: enrolled and waitlisted
  await f.domain.setRegistrationPeriod(REGISTRAR, { opens_at: OPENS, closes_at: CLOSES });
  const other = await f.section({ day: 'Friday' });
  const before = f.snapshot();
  await rejectsWith(f.domain.createEnrollment(student(12), { user_id: 12, section_id: other }), Status.FAILED_PRECONDITION, {
    message: /registration opens at 2027-01-10T08:00:00Z/,
  });
  await rejectsWith(f.domain.dropUserEnrollment(student(10), { user_id: 10, section_id: s }), Status.FAILED_PRECONDITION, { message: /opens at/ });
  assert.equal(f.snapshot(), before);
  // Unknown sections are still NOT_FOUND first.
  await rejectsWith(f.domain.createEnrollment(student(12), { user_id: 12, section_id: 999 }), Status.NOT_FOUND);

  // The registrar acts; an instructor drops from their section; a student leaves a waitlist.
  assert.equal((await f.domain.createEnrollment(REGISTRAR, { user_id: 12, section_id: other })).status, 'enrolled');
  await f.domain.setEnrollmentGrade(INSTRUCTOR, { section_id: other, user_id: 12, grade: 'P' });
  await f.domain.setEnrollmentGrade(INSTRUCTOR, { section_id: other, user_id: 12, grade: '' });
  const dropped = await f.domain.dropSectionEnrollment(INSTRUCTOR, { section_id: s, user_id: 10 });
  assert.deepEqual(dropped.promoted_user_ids, [11], 'a promotion is not bound by the period');
  assert.equal((await f.domain.createEnrollment(REGISTRAR, { user_id: 13, section_id: s })).status, 'waitlisted');
  await f.domain.dropUserWaitlist(student(13), { user_id: 13, section_id: s });
  assert.deepEqual(waitlistOf(f, s), []);
  assert.equal((await f.domain.dropUserEnrollment(REGISTRAR, { user_id: 12, section_id: other })).user_id, 12);

  // Inside the period the student acts; after it, not again.
  f.nowMs = at(OPENS);
  assert.equal((await f.domain.createEnrollment(student(14), { user_id: 14, section_id: other })).status, 'enrolled');
  f.nowMs = at(CLOSES, -1000);
  await f.domain.dropUserEnrollment(student(14), { user_id: 14, section_id: other });
  f.nowMs = at(CLOSES);
  await rejectsWith(f.domain.createEnrollment(student(14), { user_id: 14, section_id: other }), Status.FAILED_PRECONDITION, {
    message: /registration closed at 2027-01-24T17:00:00Z/,
  });
  assert.equal(statusOf(f, 14, other), 'dropped');
  f.close();
});

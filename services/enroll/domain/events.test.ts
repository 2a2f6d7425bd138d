import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Status } from '../../../lib/errors.js';
import { enrollAll, INSTRUCTOR, REGISTRAR, rejectsWith, setup, student, type Fixture } from './fixture.js';

/** A listing's events as [user, action, actor, grade], in the order given (newest first). */
const brief = (res: { events: Array<{ user_id: number; action: string; actor_id: number; grade: string }> }) =>
  res.events.map((e) => [e.user_id, e.action, e.actor_id, e.grade]);

const sectionEvents = async (f: Fixture, sectionId: number) => brief(await f.domain.listSectionEnrollmentEvents(REGISTRAR, { section_id: sectionId }));

test('every change to a place in a section is an event: what, to whom, asked by whom (0: the service), newest first', async () => {
  const f = await setup();
  const s = await f.section({ capacity: 1 });
  await enrollAll(f, s, [10, 11, 12]);
  await f.domain.dropSectionEnrollment(INSTRUCTOR, { section_id: s, user_id: 10 });
  await f.domain.dropUserWaitlist(student(12), { user_id: 12, section_id: s });
  await f.domain.setEnrollmentGrade(INSTRUCTOR, { section_id: s, user_id: 11, grade: 'b+' });
  await f.domain.setEnrollmentGrade(REGISTRAR, { section_id: s, user_id: 11, grade: 'B+' }); // no change, no event
  await f.domain.setEnrollmentGrade(REGISTRAR, { section_id: s, user_id: 11, grade: '' });
  await f.domain.createEnrollment(REGISTRAR, { user_id: 10, section_id: s });
  assert.deepEqual(await sectionEvents(f, s), [
    [10, 'waitlisted', REGISTRAR.userId, ''],
    [11, 'grade_cleared', REGISTRAR.userId, ''],
    [11, 'graded', INSTRUCTOR.userId, 'B+'],
    [12, 'left_waitlist', 12, ''],
    [11, 'promoted', 0, ''],
    [10, 'dropped', INSTRUCTOR.userId, ''],
    [12, 'waitlisted', 12, ''],
    [11, 'waitlisted', 11, ''],
    [10, 'enrolled', 10, ''],
  ]);
  const own = await f.domain.listUserEnrollmentEvents(student(11), { user_id: 11 });
  assert.deepEqual(brief(own), [
    [11, 'grade_cleared', REGISTRAR.userId, ''],
    [11, 'graded', INSTRUCTOR.userId, 'B+'],
    [11, 'promoted', 0, ''],
    [11, 'waitlisted', 11, ''],
  ]);
  const ids = own.events.map((e) => e.id);
  assert.deepEqual(ids, [...ids].sort((a, b) => b - a), 'newest first');
  for (const e of own.events) {
    assert.equal(e.section_id, s);
    assert.match(e.at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  }
  f.close();
});

test('a swap is a drop and an enrollment (and leaving the line it skips); deleting a section drops and unlists its students', async () => {
  const f = await setup();
  const a = await f.section({ capacity: 1 });
  const b = await f.section({ capacity: 2, day: 'Tuesday' });
  await enrollAll(f, a, [10, 11]);
  await f.domain.createEnrollment(student(10), { user_id: 10, section_id: b, replacing_section_id: a });
  assert.deepEqual(brief(await f.domain.listUserEnrollmentEvents(REGISTRAR, { user_id: 10 })), [
    [10, 'enrolled', 10, ''],
    [10, 'dropped', 10, ''],
    [10, 'enrolled', 10, ''],
  ]);
  assert.deepEqual(await sectionEvents(f, a), [
    [11, 'promoted', 0, ''],
    [10, 'dropped', 10, ''],
    [11, 'waitlisted', 11, ''],
    [10, 'enrolled', 10, ''],
  ]);
  await enrollAll(f, b, [12, 13]);
  await f.domain.deleteSection(REGISTRAR, { section_id: b });
  const dropped = brief(await f.domain.listUserEnrollmentEvents(REGISTRAR, { user_id: 10 }))[0];
  assert.deepEqual(dropped, [10, 'dropped', REGISTRAR.userId, '']);
  assert.deepEqual(brief(await f.domain.listUserEnrollmentEvents(REGISTRAR, { user_id: 13 })), [
    [13, 'left_waitlist', REGISTRAR.userId, ''],
    [13, 'waitlisted', 13, ''],
  ]);
  f.close();
});

test('a refused change leaves no event, not even the drop a refused swap began with', async () => {
  const f = await setup();
  const a = await f.section({ capacity: 5 });
  const full = await f.section({ capacity: 1, waitlist_capacity: 0, day: 'Tuesday' });
  await enrollAll(f, full, [11]);
  await enrollAll(f, a, [10]);
  const count = () => (f.db.prepare('SELECT count(*) AS n FROM enrollment_events').get() as { n: number }).n;
  const before = count();
  await rejectsWith(f.domain.createEnrollment(student(10), { user_id: 10, section_id: full, replacing_section_id: a }), Status.FAILED_PRECONDITION);
  await rejectsWith(f.domain.createEnrollment(student(10), { user_id: 10, section_id: full }), Status.FAILED_PRECONDITION);
  await rejectsWith(f.domain.dropUserWaitlist(student(10), { user_id: 10, section_id: full }), Status.NOT_FOUND);
  await rejectsWith(f.domain.setEnrollmentGrade(INSTRUCTOR, { section_id: a, user_id: 12, grade: 'A' }), Status.NOT_FOUND);
  assert.equal(count(), before);
  f.close();
});

test('events are paged newest first; a page token belongs to its listing', async () => {
  const f = await setup();
  const s = await f.section({ capacity: 1 });
  await enrollAll(f, s, [10, 11, 12, 13, 14]);
  const all = (await f.domain.listSectionEnrollmentEvents(REGISTRAR, { section_id: s })).events.map((e) => e.id);
  assert.equal(all.length, 5);
  const seen: number[] = [];
  let token = '';
  do {
    const page = await f.domain.listSectionEnrollmentEvents(REGISTRAR, { section_id: s, page_size: 2, page_token: token });
    assert.ok(page.events.length <= 2);
    seen.push(...page.events.map((e) => e.id));
    token = page.next_page_token;
  } while (token !== '');
  assert.deepEqual(seen, all);
  const first = await f.domain.listSectionEnrollmentEvents(REGISTRAR, { section_id: s, page_size: 2 });
  await rejectsWith(f.domain.listUserEnrollmentEvents(REGISTRAR, { user_id: 10, page_token: first.next_page_token }), Status.INVALID_ARGUMENT, {
    field: 'page_token',
  });
  await rejectsWith(f.domain.listUserEnrollmentEvents(REGISTRAR, { user_id: 999 }), Status.NOT_FOUND);
  await rejectsWith(f.domain.listSectionEnrollmentEvents(REGISTRAR, { section_id: 999 }), Status.NOT_FOUND);
  f.close();
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Status } from '../../../lib/errors.js';
import { REGISTRAR, rejectsWith, setup, student } from './fixture.js';

test('syncUsers pulls only users newer than the newest local one, page by page', async () => {
  const f = await setup({ syncUsers: false, pageSize: 4 });
  assert.equal(await f.domain.syncUsers(), 23);
  const calls = f.directoryCalls;
  assert.equal(await f.domain.syncUsers(), 0);
  assert.equal(f.directoryCalls, calls + 1);
  f.directoryUsers.push({ id: 40, username: 'new', first_name: 'N', last_name: 'U', roles: ['student', 'instructor'] });
  assert.equal(await f.domain.syncUsers(), 1);
  assert.deepEqual((await f.domain.getUser(REGISTRAR, { user_id: 40 })).roles, ['student', 'instructor']);
  f.close();
});

test('concurrent syncs share one pull', async () => {
  const f = await setup({ syncUsers: false });
  const before = f.directoryCalls;
  const counts = await Promise.all([f.domain.syncUsers(), f.domain.syncUsers(), f.domain.syncUsers()]);
  assert.deepEqual(counts, [23, 23, 23]);
  // One pull: one page with users, one empty page to end it.
  assert.equal(f.directoryCalls - before, 2);
  f.close();
});

test('enrolling a user our copy does not know yet syncs once, then succeeds', async () => {
  const f = await setup();
  const s = await f.section();
  f.directoryUsers.push({ id: 50, username: 'late', first_name: 'L', last_name: 'Ate', roles: ['student'] });
  const res = await f.domain.createEnrollment(student(50), { user_id: 50, section_id: s });
  assert.equal(res.status, 'enrolled');
  f.close();
});

test('a user unknown to the directory as well is NOT_FOUND after one sync', async () => {
  const f = await setup();
  const s = await f.section();
  const before = f.directoryCalls;
  await rejectsWith(f.domain.createEnrollment(student(60), { user_id: 60, section_id: s }), Status.NOT_FOUND);
  assert.equal(f.directoryCalls - before, 1);
  // Known users cause no directory call at all.
  await f.domain.createEnrollment(student(10), { user_id: 10, section_id: s });
  assert.equal(f.directoryCalls - before, 1);
  // An unknown user is not remembered as unknown: once the directory has them, they enroll.
  f.directoryUsers.push({ id: 60, username: 'later', first_name: 'La', last_name: 'Ter', roles: ['student'] });
  assert.equal((await f.domain.createEnrollment(student(60), { user_id: 60, section_id: s })).status, 'enrolled');
  f.close();
});

test('a write about users the local copy covers reads nothing first, and calls no directory', async () => {
  const f = await setup();
  const a = await f.section();
  const b = await f.section({ day: 'Tuesday' });
  await f.domain.createEnrollment(student(10), { user_id: 10, section_id: a });
  const reads = f.readsEntered;
  const calls = f.directoryCalls;
  // Student 11 is new to this process, but below the newest user of the copy.
  assert.equal((await f.domain.createEnrollment(student(11), { user_id: 11, section_id: b })).status, 'enrolled');
  assert.equal(f.readsEntered, reads, 'no read before the write');
  // Ids 4..9 were never given (the directory has 1-3 and 10-29): below the
  // newest synced user, an id missing from the copy is missing everywhere.
  await rejectsWith(f.domain.createEnrollment(student(5), { user_id: 5, section_id: a }), Status.NOT_FOUND);
  assert.equal(f.directoryCalls, calls, 'no directory call');
  f.close();
});

test('a new instructor is synced before a section names them', async () => {
  const f = await setup();
  f.directoryUsers.push({ id: 70, username: 'prof', first_name: 'P', last_name: 'Rof', roles: ['instructor'] });
  const id = await f.section({ instructor_id: 70 });
  assert.equal((await f.domain.getSection(REGISTRAR, { section_id: id })).instructor_id, 70);
  f.directoryUsers.push({ id: 71, username: 'prof2', first_name: 'P', last_name: 'Rof', roles: ['instructor'] });
  const updated = await f.domain.updateSection(REGISTRAR, { section_id: id, instructor_id: 71 });
  assert.equal(updated.instructor_id, 71);
  f.close();
});

test('changes to users (roles, names) are applied in seq order, once each; a change for a user not copied yet waits for the user', async () => {
  const f = await setup();
  const user = (id: number) => f.domain.getUser(REGISTRAR, { user_id: id });
  const change = (seq: number, id: number, roles: string[], last_name = `Dent${id}`) => ({
    seq,
    user: { id, username: `s${id}`, first_name: 'Stu', last_name, roles },
  });
  assert.equal(await f.domain.syncUserChanges(), 0);
  f.userChanges.push(change(1, 10, ['instructor']), change(2, 11, ['student', 'instructor'], 'Renamed'));
  assert.equal(await f.domain.syncUserChanges(), 2);
  assert.deepEqual((await user(10)).roles, ['instructor']);
  assert.deepEqual([(await user(11)).roles, (await user(11)).last_name], [['student', 'instructor'], 'Renamed']);
  assert.equal(await f.domain.syncUserChanges(), 0, 'nothing new after seq 2');
  // The directory answers each change with the user as they are now; a later change wins.
  f.userChanges.push(change(5, 10, ['student']), change(6, 99, ['registrar']));
  assert.equal(await f.domain.syncUserChanges(), 2);
  assert.deepEqual((await user(10)).roles, ['student']);
  await rejectsWith(user(99), Status.NOT_FOUND);
  assert.equal(f.db.prepare('SELECT seq FROM user_sync').pluck().get(), 6);
  f.close();
});

test('a student just made an instructor can be named on a section at once', async () => {
  const f = await setup();
  await rejectsWith(f.section({ instructor_id: 12 }), Status.FAILED_PRECONDITION);
  f.userChanges.push({ seq: 1, user: { id: 12, username: 's12', first_name: 'Stu', last_name: 'Dent12', roles: ['instructor'] } });
  const id = await f.section({ instructor_id: 12 });
  assert.equal((await f.domain.getSection(REGISTRAR, { section_id: id })).instructor_id, 12);
  f.close();
});

test('a student asking about themself before being synced gets empty lists', async () => {
  const f = await setup();
  const me = student(80);
  assert.deepEqual((await f.domain.listUserEnrollments(me, { user_id: 80 })).enrollments, []);
  assert.deepEqual((await f.domain.listUserWaitlist(me, { user_id: 80 })).entries, []);
  assert.deepEqual((await f.domain.listUserSections(me, { user_id: 80 })).sections, []);
  f.close();
});

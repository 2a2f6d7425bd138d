import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Status } from '../../../lib/errors.js';
import { MAX_CREDITS_PER_STUDENT } from './credits.js';
import { enrollAll, INSTRUCTOR, REGISTRAR, rejectsWith, setup, statusOf, student, waitlistOf, type Fixture } from './fixture.js';

const DAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];
let courses = 0;

/** A section, on a day of its own, of a new course worth `credits`. */
async function sectionWorth(f: Fixture, credits: number, opts: { capacity?: number } = {}): Promise<number> {
  courses += 1;
  const { department_id } = await f.domain.getCourse(REGISTRAR, { course_id: f.courseId });
  const course = await f.domain.createCourse(REGISTRAR, { code: `LOAD ${courses}`, name: 'Load', department_id, credits });
  return f.section({ course_id: course.id, day: DAYS[courses % 7]!, capacity: opts.capacity ?? 10 });
}

/** Student `id` enrolled in three 6-credit sections: a full load. */
async function fullLoad(f: Fixture, id: number): Promise<number[]> {
  const sections = [];
  for (let i = 0; i < 3; i++) {
    const s = await sectionWorth(f, 6);
    await enrollAll(f, s, [id]);
    sections.push(s);
  }
  return sections;
}

test('a course counts 3 credits unless given 0 to 12; an update changes only the credits sent', async () => {
  const f = await setup();
  const { department_id } = await f.domain.getCourse(REGISTRAR, { course_id: f.courseId });
  assert.equal((await f.domain.getCourse(student(10), { course_id: f.courseId })).credits, 3);
  const lab = await f.domain.createCourse(REGISTRAR, { code: 'LAB 1', name: 'Lab', department_id, credits: 0 });
  assert.equal(lab.credits, 0);
  for (const credits of [-1, 13, 2.5]) {
    await rejectsWith(f.domain.createCourse(REGISTRAR, { code: 'LAB 2', name: 'Lab', department_id, credits }), Status.INVALID_ARGUMENT, { field: 'credits' });
    await rejectsWith(f.domain.updateCourse(REGISTRAR, { course_id: lab.id, credits }), Status.INVALID_ARGUMENT, { field: 'credits' });
  }
  const changed = await f.domain.updateCourse(REGISTRAR, { course_id: lab.id, credits: 12 });
  assert.deepEqual({ ...changed, credits: 0 }, lab, 'nothing else changed');
  assert.equal(changed.credits, 12);
  assert.equal((await f.domain.updateCourse(REGISTRAR, { course_id: lab.id, name: 'Lab work' })).credits, 12);
  f.close();
});

test(`a student carries at most ${MAX_CREDITS_PER_STUDENT} credits: past that, enrolling and waitlisting are refused and change nothing`, async () => {
  const f = await setup();
  await fullLoad(f, 10);
  const open = await sectionWorth(f, 1);
  const full = await sectionWorth(f, 1, { capacity: 1 });
  await enrollAll(f, full, [11]);
  const before = f.snapshot();
  await rejectsWith(f.domain.createEnrollment(student(10), { user_id: 10, section_id: open }), Status.FAILED_PRECONDITION, {
    message: /carries 18 credits; LOAD \d+ adds 1, past the limit of 18/,
  });
  await rejectsWith(f.domain.createEnrollment(REGISTRAR, { user_id: 10, section_id: full }), Status.FAILED_PRECONDITION, { message: /credits/ });
  assert.equal(f.snapshot(), before);
  // A course worth nothing still fits.
  assert.equal((await f.domain.createEnrollment(student(10), { user_id: 10, section_id: await sectionWorth(f, 0) })).status, 'enrolled');
  f.close();
});

test('dropped and graded enrollments leave the load', async () => {
  const f = await setup();
  const [a, b] = await fullLoad(f, 10);
  const next = await sectionWorth(f, 6);
  await rejectsWith(f.domain.createEnrollment(student(10), { user_id: 10, section_id: next }), Status.FAILED_PRECONDITION);
  await f.domain.setEnrollmentGrade(INSTRUCTOR, { section_id: a!, user_id: 10, grade: 'B' });
  assert.equal((await f.domain.createEnrollment(student(10), { user_id: 10, section_id: next })).status, 'enrolled');
  const another = await sectionWorth(f, 6);
  await rejectsWith(f.domain.createEnrollment(student(10), { user_id: 10, section_id: another }), Status.FAILED_PRECONDITION);
  await f.domain.dropUserEnrollment(student(10), { user_id: 10, section_id: b! });
  assert.equal((await f.domain.createEnrollment(student(10), { user_id: 10, section_id: another })).status, 'enrolled');
  f.close();
});

test('a promotion skips a student whose load is full; they keep their place, and the seat goes to the next in line', async () => {
  const f = await setup();
  const s = await sectionWorth(f, 3, { capacity: 1 });
  await enrollAll(f, s, [11]);
  // 10 joins the waitlist carrying 12 credits (15 with s), then takes 6 more elsewhere.
  for (let i = 0; i < 2; i++) await enrollAll(f, await sectionWorth(f, 6), [10]);
  await enrollAll(f, s, [10, 12]);
  assert.deepEqual(waitlistOf(f, s), [[10, 1], [12, 2]]);
  await enrollAll(f, await sectionWorth(f, 6), [10]);
  const drop = await f.domain.dropUserEnrollment(student(11), { user_id: 11, section_id: s });
  assert.deepEqual(drop.promoted_user_ids, [12]);
  assert.deepEqual(waitlistOf(f, s), [[10, 1]]);
  f.close();
});

test('a seat left free while the first in line had a full load goes to them once a drop or a grade makes room', async () => {
  for (const makeRoom of ['drop', 'grade'] as const) {
    const f = await setup();
    const s = await sectionWorth(f, 6, { capacity: 1 });
    await enrollAll(f, s, [11]);
    await enrollAll(f, s, [10]);
    const load = await fullLoad(f, 10);
    const drop = await f.domain.dropUserEnrollment(student(11), { user_id: 11, section_id: s });
    assert.deepEqual(drop.promoted_user_ids, [], 'no one fits');
    assert.equal(statusOf(f, 10, s), undefined);
    if (makeRoom === 'drop') await f.domain.dropUserEnrollment(student(10), { user_id: 10, section_id: load[0]! });
    else await f.domain.setEnrollmentGrade(INSTRUCTOR, { section_id: load[0]!, user_id: 10, grade: 'A' });
    assert.equal(statusOf(f, 10, s), 'enrolled', `after a ${makeRoom}`);
    assert.deepEqual(waitlistOf(f, s), []);
    f.close();
  }
});

test("more credits for a course are refused while a student taking it would pass the limit; fewer walk the waitlists its students, and its sections, have", async () => {
  const f = await setup();
  const [a] = await fullLoad(f, 10);
  const courseOf = async (sectionId: number) => (await f.domain.getSection(REGISTRAR, { section_id: sectionId })).course_id;
  const before = f.snapshot();
  await rejectsWith(f.domain.updateCourse(REGISTRAR, { course_id: await courseOf(a!), credits: 7 }), Status.FAILED_PRECONDITION, {
    message: /user 10 would carry 19 credits with LOAD \d+ at 7, past the limit of 18/,
  });
  assert.equal(f.snapshot(), before);
  // A student who has finished it (graded) no longer carries it.
  await f.domain.setEnrollmentGrade(INSTRUCTOR, { section_id: a!, user_id: 10, grade: 'A' });
  assert.equal((await f.domain.updateCourse(REGISTRAR, { course_id: await courseOf(a!), credits: 12 })).credits, 12);

  // Student 12 carries 12 credits and waits for w (6 more), then takes 6 elsewhere: full.
  const g = await setup();
  const w = await sectionWorth(g, 6, { capacity: 1 });
  await enrollAll(g, w, [11]);
  const light = await sectionWorth(g, 6);
  await enrollAll(g, light, [12]);
  await enrollAll(g, await sectionWorth(g, 6), [12]);
  await enrollAll(g, w, [12]);
  await enrollAll(g, await sectionWorth(g, 6), [12]);
  await g.domain.dropUserEnrollment(student(11), { user_id: 11, section_id: w });
  assert.equal(statusOf(g, 12, w), undefined, 'skipped: a full load');
  // The course of a section they wait for is lightened: it fits now.
  const course = (await g.domain.getSection(REGISTRAR, { section_id: w })).course_id;
  await g.domain.updateCourse(REGISTRAR, { course_id: course, credits: 0 });
  assert.equal(statusOf(g, 12, w), 'enrolled');
  f.close();
  g.close();
});

test('a lighter course a student takes makes room for them where they wait', async () => {
  const f = await setup();
  const s = await sectionWorth(f, 3, { capacity: 1 });
  await enrollAll(f, s, [11]);
  const x = await sectionWorth(f, 6);
  await enrollAll(f, x, [10]);
  await enrollAll(f, await sectionWorth(f, 6), [10]);
  await enrollAll(f, s, [10]); // 12 credits: 10 may wait for s
  await enrollAll(f, await sectionWorth(f, 6), [10]); // 18
  await f.domain.dropUserEnrollment(student(11), { user_id: 11, section_id: s });
  assert.equal(statusOf(f, 10, s), undefined, 'skipped: 18 credits, and s adds 3');
  const course = (await f.domain.getSection(REGISTRAR, { section_id: x })).course_id;
  await f.domain.updateCourse(REGISTRAR, { course_id: course, credits: 3 });
  assert.equal(statusOf(f, 10, s), 'enrolled');
  assert.deepEqual(waitlistOf(f, s), []);
  f.close();
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Status } from '../../../lib/errors.js';
import type { TranscriptRow } from '../store/rows.js';
import { enrollAll, INSTRUCTOR, REGISTRAR, rejectsWith, setup, student } from './fixture.js';
import { summarize } from './transcript.js';

const row = (section_id: number, credits: number, grade: string, repeated: 0 | 1 = 0): TranscriptRow => ({
  section_id,
  course_id: section_id,
  course_code: `C ${section_id}`,
  course_name: 'Course',
  credits,
  grade,
  repeated,
});

test('the grade point average weighs letter grades by credits; P earns credits without grade points; NP and I count for nothing', () => {
  const t = summarize(10, [row(1, 4, 'A'), row(2, 3, 'B-'), row(3, 3, 'F'), row(4, 2, 'P'), row(5, 3, 'NP'), row(6, 3, 'I'), row(7, 0, 'C')], 6);
  assert.equal(t.credits_attempted, 4 + 3 + 3 + 0);
  assert.equal(t.credits_earned, 4 + 3 + 2 + 0);
  assert.equal(t.credits_in_progress, 6);
  // (4 × 4.0 + 3 × 2.7 + 3 × 0) / 10 = 2.41
  assert.equal(t.gpa, 2.41);
  assert.deepEqual(t.entries.map((e) => e.grade), ['A', 'B-', 'F', 'P', 'NP', 'I', 'C']);
  assert.equal(summarize(10, [row(1, 3, 'A-'), row(2, 3, 'B+')], 0).gpa, 3.5);
  assert.equal(summarize(10, [row(1, 3, 'C+'), row(2, 3, 'D'), row(3, 3, 'D-')], 0).gpa, 1.33);
  // (3 × 0 + 9 × 1.7) / 12 = 1.275 exactly: a half, rounded up (in binary floating point
  // the sum of 9 × 1.7 is 15.299…, which would round down).
  assert.equal(summarize(10, [row(1, 3, 'F'), row(2, 9, 'C-')], 0).gpa, 1.28);
});

test('a repeated attempt is listed but leaves the totals', () => {
  const t = summarize(10, [row(1, 3, 'F', 1), row(2, 3, 'D', 1), row(3, 3, 'B')], 0);
  assert.deepEqual([t.credits_attempted, t.credits_earned, t.gpa], [3, 3, 3]);
  assert.deepEqual(t.entries.map((e) => [e.grade, e.repeated]), [['F', true], ['D', true], ['B', false]]);
});

test('no letter grade, no average', () => {
  const t = summarize(10, [row(1, 3, 'P'), row(2, 3, 'I')], 0);
  assert.equal(t.gpa, undefined);
  assert.equal(t.credits_attempted, 0);
  assert.equal(t.credits_earned, 3);
});

test('a student reads their transcript: graded sections in order, and the load still in progress; so does the registrar, and no one else', async () => {
  const f = await setup();
  const { department_id } = await f.domain.getCourse(REGISTRAR, { course_id: f.courseId });
  const four = await f.domain.createCourse(REGISTRAR, { code: 'LAB 4', name: 'Lab', department_id, credits: 4 });
  const a = await f.section();
  const b = await f.section({ course_id: four.id, day: 'Tuesday' });
  const c = await f.section({ course_id: await f.course(), day: 'Wednesday' });
  await enrollAll(f, a, [10]);
  await enrollAll(f, b, [10]);
  await enrollAll(f, c, [10]);
  assert.deepEqual(await f.domain.getUserTranscript(student(10), { user_id: 10 }), {
    user_id: 10,
    entries: [],
    credits_attempted: 0,
    credits_earned: 0,
    credits_in_progress: 10,
    gpa: undefined,
  });
  await f.domain.setEnrollmentGrade(INSTRUCTOR, { section_id: b, user_id: 10, grade: 'B+' });
  await f.domain.setEnrollmentGrade(INSTRUCTOR, { section_id: a, user_id: 10, grade: 'A' });
  const t = await f.domain.getUserTranscript(student(10), { user_id: 10 });
  assert.deepEqual(
    t.entries.map((e) => [e.section_id, e.course_code, e.credits, e.grade]),
    [
      [a, 'CPSC 449', 3, 'A'],
      [b, 'LAB 4', 4, 'B+'],
    ],
  );
  assert.deepEqual([t.credits_attempted, t.credits_earned, t.credits_in_progress, t.gpa], [7, 7, 3, 3.6]);
  assert.deepEqual(await f.domain.getUserTranscript(REGISTRAR, { user_id: 10 }), t);
  for (const actor of [student(11), INSTRUCTOR]) {
    await rejectsWith(f.domain.getUserTranscript(actor, { user_id: 10 }), Status.PERMISSION_DENIED);
  }
  await rejectsWith(f.domain.getUserTranscript(REGISTRAR, { user_id: 999 }), Status.NOT_FOUND);
  await rejectsWith(f.domain.getUserTranscript(REGISTRAR, { user_id: 0 }), Status.INVALID_ARGUMENT, { field: 'user_id' });
  f.close();
});

test('a course taken again counts once, by its latest attempt; the earlier one stays on the transcript', async () => {
  const f = await setup();
  const first = await f.section();
  await enrollAll(f, first, [10]);
  await f.domain.setEnrollmentGrade(INSTRUCTOR, { section_id: first, user_id: 10, grade: 'D' });
  const again = await f.section({ day: 'Tuesday' });
  await enrollAll(f, again, [10]);
  const during = await f.domain.getUserTranscript(student(10), { user_id: 10 });
  assert.deepEqual([during.credits_earned, during.credits_in_progress, during.gpa], [3, 3, 1], 'the retake in progress repeats nothing yet');
  await f.domain.setEnrollmentGrade(INSTRUCTOR, { section_id: again, user_id: 10, grade: 'A' });
  const t = await f.domain.getUserTranscript(student(10), { user_id: 10 });
  assert.deepEqual(t.entries.map((e) => [e.section_id, e.grade, e.repeated]), [[first, 'D', true], [again, 'A', false]]);
  assert.deepEqual([t.credits_attempted, t.credits_earned, t.credits_in_progress, t.gpa], [3, 3, 0, 4]);
  f.close();
});

test('an incomplete retake replaces nothing until it becomes a grade', async () => {
  const f = await setup();
  const first = await f.section();
  await enrollAll(f, first, [10]);
  await f.domain.setEnrollmentGrade(INSTRUCTOR, { section_id: first, user_id: 10, grade: 'B' });
  const again = await f.section({ day: 'Tuesday' });
  await enrollAll(f, again, [10]);
  await f.domain.setEnrollmentGrade(INSTRUCTOR, { section_id: again, user_id: 10, grade: 'I' });
  const pending = await f.domain.getUserTranscript(student(10), { user_id: 10 });
  assert.deepEqual(pending.entries.map((e) => [e.section_id, e.grade, e.repeated]), [[first, 'B', false], [again, 'I', false]]);
  assert.deepEqual([pending.credits_attempted, pending.credits_earned, pending.gpa], [3, 3, 3], 'the B still counts');
  // The incomplete is finished with a lower grade: now it replaces the B.
  await f.domain.setEnrollmentGrade(INSTRUCTOR, { section_id: again, user_id: 10, grade: 'C' });
  const t = await f.domain.getUserTranscript(student(10), { user_id: 10 });
  assert.deepEqual(t.entries.map((e) => [e.section_id, e.grade, e.repeated]), [[first, 'B', true], [again, 'C', false]]);
  assert.deepEqual([t.credits_attempted, t.credits_earned, t.gpa], [3, 3, 2]);
  // A third attempt left incomplete: the C counts, and an earlier incomplete
  // behind a final grade is repeated like any attempt.
  await f.domain.setEnrollmentGrade(INSTRUCTOR, { section_id: again, user_id: 10, grade: 'I' });
  await f.domain.setEnrollmentGrade(INSTRUCTOR, { section_id: first, user_id: 10, grade: 'I' });
  const third = await f.section({ day: 'Wednesday' });
  await enrollAll(f, third, [10]);
  await f.domain.setEnrollmentGrade(INSTRUCTOR, { section_id: third, user_id: 10, grade: 'A' });
  const last = await f.domain.getUserTranscript(student(10), { user_id: 10 });
  assert.deepEqual(last.entries.map((e) => [e.section_id, e.grade, e.repeated]), [[first, 'I', true], [again, 'I', true], [third, 'A', false]]);
  assert.deepEqual([last.credits_attempted, last.credits_earned, last.gpa], [3, 3, 4]);
  f.close();
});

test('attempts of a course made within one second still count by which came last, not by section id', async () => {
  const f = await setup();
  const a = await f.section();
  const b = await f.section({ day: 'Tuesday' });
  assert.ok(a < b);
  await enrollAll(f, b, [10]);
  await f.domain.setEnrollmentGrade(INSTRUCTOR, { section_id: b, user_id: 10, grade: 'F' });
  await enrollAll(f, a, [10]);
  await f.domain.setEnrollmentGrade(INSTRUCTOR, { section_id: a, user_id: 10, grade: 'A' });
  // Within one second for certain: the dates tie.
  f.db.prepare("UPDATE enrollments SET date = '2026-09-01T09:00:00Z' WHERE user_id = 10").run();
  const t = await f.domain.getUserTranscript(student(10), { user_id: 10 });
  assert.deepEqual(t.entries.map((e) => [e.section_id, e.grade, e.repeated]), [[a, 'A', false], [b, 'F', true]]);
  assert.deepEqual([t.credits_attempted, t.credits_earned, t.gpa], [3, 3, 4]);
  f.close();
});

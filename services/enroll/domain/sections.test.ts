import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Status } from '../../../lib/errors.js';
import { personName } from './convert.js';
import { enrollAll, INSTRUCTOR, OTHER_INSTRUCTOR, REGISTRAR, rejectsWith, setup, statusOf, student, waitlistOf } from './fixture.js';

const valid = (courseId: number) => ({
  course_id: courseId,
  classroom: 'CS102',
  capacity: 30,
  day: 'Tuesday',
  begin_time: '19:00',
  end_time: '21:45',
  instructor_id: INSTRUCTOR.userId,
});

test('a created section is normalised and carries its course, department, instructor and counts; reads choose the view', async () => {
  const f = await setup();
  const s = await f.domain.createSection(REGISTRAR, { ...valid(f.courseId), day: 'tUESday', classroom: '  CS102 ' });
  const course = await f.domain.getCourse(REGISTRAR, { course_id: f.courseId });
  assert.deepEqual(s, {
    id: s.id,
    course_id: f.courseId,
    course_code: 'CPSC 449',
    course_name: 'Web Back-End',
    course_credits: 3,
    department_id: course.department_id,
    department_name: 'Computer Science',
    classroom: 'CS102',
    capacity: 30,
    waitlist_capacity: 15,
    day: 'Tuesday',
    begin_time: '19:00',
    end_time: '21:45',
    instructor_id: INSTRUCTOR.userId,
    instructor_username: 'ian',
    instructor_name: 'Ian Struct',
    frozen: false,
    deleted: false,
    enrolled_count: 0,
    waitlist_count: 0,
  });
  // Reads: listings default to the basic view, a section alone to the full one.
  const { course_name, course_credits, department_id, department_name, instructor_username, instructor_name, ...basic } = s;
  assert.deepEqual([course_name, course_credits, department_id, department_name, instructor_username, instructor_name].filter((v) => v === undefined), []);
  assert.deepEqual((await f.domain.listSections(student(10), {})).sections, [basic]);
  assert.deepEqual((await f.domain.listSections(student(10), { view: 'basic' })).sections, [basic]);
  assert.deepEqual((await f.domain.listSections(student(10), { view: 'full' })).sections, [s]);
  assert.deepEqual(await f.domain.getSection(student(10), { section_id: s.id }), s);
  assert.deepEqual(await f.domain.getSection(student(10), { section_id: s.id, view: 'basic' }), basic);
  assert.deepEqual((await f.domain.listUserSections(INSTRUCTOR, { user_id: INSTRUCTOR.userId, type: 'instructing', view: 'full' })).sections, [s]);
  assert.deepEqual((await f.domain.listUserSections(INSTRUCTOR, { user_id: INSTRUCTOR.userId, type: 'instructing' })).sections, [basic]);
  for (const bad of ['FULL', 'all']) {
    await rejectsWith(f.domain.listSections(student(10), { view: bad }), Status.INVALID_ARGUMENT, { field: 'view' });
    await rejectsWith(f.domain.getSection(student(10), { section_id: s.id, view: bad }), Status.INVALID_ARGUMENT, { field: 'view' });
  }
  const explicit = await f.domain.createSection(REGISTRAR, { ...valid(f.courseId), classroom: 'CS104', waitlist_capacity: 0, instructor_id: OTHER_INSTRUCTOR.userId });
  assert.equal(explicit.waitlist_capacity, 0);
  f.close();
});

test("an instructor's name is first and last name, or the username when both are empty", () => {
  assert.equal(personName('Ada', 'Lovelace', 'ada'), 'Ada Lovelace');
  assert.equal(personName('', 'Turing', 'alan'), 'Turing');
  assert.equal(personName('', '', 'nameless'), 'nameless');
});

test('section fields are validated, naming the field', async () => {
  const f = await setup();
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ course_id: 0 }, 'course_id'],
    [{ classroom: ' ' }, 'classroom'],
    [{ classroom: 'x'.repeat(51) }, 'classroom'],
    [{ classroom: 'CS\n102' }, 'classroom'],
    [{ classroom: 'CS\u0000102' }, 'classroom'],
    [{ capacity: 0 }, 'capacity'],
    [{ capacity: 10_001 }, 'capacity'],
    [{ waitlist_capacity: -1 }, 'waitlist_capacity'],
    [{ waitlist_capacity: 1001 }, 'waitlist_capacity'],
    [{ day: 'Funday' }, 'day'],
    [{ begin_time: '7pm' }, 'begin_time'],
    [{ begin_time: '24:00' }, 'begin_time'],
    [{ end_time: '9:45' }, 'end_time'],
    [{ begin_time: '10:00', end_time: '10:00' }, 'end_time'],
    [{ instructor_id: -2 }, 'instructor_id'],
  ];
  for (const [patch, field] of cases) {
    await rejectsWith(f.domain.createSection(REGISTRAR, { ...valid(f.courseId), ...patch }), Status.INVALID_ARGUMENT, { field });
  }
  f.close();
});

test('a section needs an existing course and an instructor', async () => {
  const f = await setup();
  await rejectsWith(f.domain.createSection(REGISTRAR, { ...valid(999) }), Status.NOT_FOUND);
  await rejectsWith(f.domain.createSection(REGISTRAR, { ...valid(f.courseId), instructor_id: 10 }), Status.FAILED_PRECONDITION, {
    message: /instructor_id: user 10 is not an instructor/,
  });
  await rejectsWith(f.domain.createSection(REGISTRAR, { ...valid(f.courseId), instructor_id: 555 }), Status.NOT_FOUND, {
    message: /^instructor_id: user 555 not found$/,
  });
  f.close();
});

test('departments and courses: validated, unique, and course codes case-insensitively', async () => {
  const f = await setup();
  await rejectsWith(f.domain.createDepartment(REGISTRAR, { name: '' }), Status.INVALID_ARGUMENT, { field: 'name' });
  for (const name of ['Math\u0000', 'Math\tematics', 'Math\r\nematics', 'Math\u001b[31m', 'Math\u007f']) {
    await rejectsWith(f.domain.createDepartment(REGISTRAR, { name }), Status.INVALID_ARGUMENT, { field: 'name', message: /^name: must not contain control characters/ });
  }
  // Outside C0 and DEL, any text: accents, other scripts, emoji.
  assert.equal((await f.domain.createDepartment(REGISTRAR, { name: 'Mathématiques 数学 🧮' })).name, 'Mathématiques 数学 🧮');
  await rejectsWith(f.domain.createDepartment(REGISTRAR, { name: 'computer science' }), Status.ALREADY_EXISTS);
  const math = await f.domain.createDepartment(REGISTRAR, { name: 'Mathematics' });
  assert.deepEqual(await f.domain.getDepartment(student(10), { department_id: math.id }), { id: math.id, name: 'Mathematics' });
  await rejectsWith(f.domain.getDepartment(student(10), { department_id: 999 }), Status.NOT_FOUND, { message: /^department 999 not found$/ });
  await rejectsWith(f.domain.getDepartment(student(10), {}), Status.INVALID_ARGUMENT, { field: 'department_id' });
  await rejectsWith(f.domain.createCourse(REGISTRAR, { code: 'cpsc 449', name: 'Again', department_id: math.id }), Status.ALREADY_EXISTS);
  await rejectsWith(f.domain.createCourse(REGISTRAR, { code: 'MATH 150A', name: 'Calc', department_id: 999 }), Status.NOT_FOUND);
  await rejectsWith(f.domain.createCourse(REGISTRAR, { code: 'x'.repeat(21), name: 'Calc', department_id: math.id }), Status.INVALID_ARGUMENT, {
    field: 'code',
  });
  await rejectsWith(f.domain.createCourse(REGISTRAR, { code: 'MATH 150A', name: '', department_id: math.id }), Status.INVALID_ARGUMENT, {
    field: 'name',
  });
  const c = await f.domain.createCourse(REGISTRAR, { code: 'MATH 150A', name: 'Calculus I', department_id: math.id });
  assert.deepEqual(c, { id: c.id, code: 'MATH 150A', name: 'Calculus I', department_id: math.id, department_name: 'Mathematics', credits: 3 });
  assert.deepEqual(await f.domain.getCourse(student(10), { course_id: c.id }), c);
  await rejectsWith(f.domain.getCourse(student(10), { course_id: 999 }), Status.NOT_FOUND);
  f.close();
});

test('departments and courses change: only the fields present, names and codes stay unique, sections show the new code', async () => {
  const f = await setup();
  const math = await f.domain.createDepartment(REGISTRAR, { name: 'Mathematics' });
  const renamed = await f.domain.updateDepartment(REGISTRAR, { department_id: math.id, name: 'Applied Mathematics' });
  assert.deepEqual(renamed, { id: math.id, name: 'Applied Mathematics' });
  assert.deepEqual(await f.domain.getDepartment(student(10), { department_id: math.id }), renamed);
  // Its own name again, in another case, is no conflict; another department's is.
  await f.domain.updateDepartment(REGISTRAR, { department_id: math.id, name: 'APPLIED mathematics' });
  await rejectsWith(f.domain.updateDepartment(REGISTRAR, { department_id: math.id, name: 'computer science' }), Status.ALREADY_EXISTS);
  await rejectsWith(f.domain.updateDepartment(REGISTRAR, { department_id: 999, name: 'Nowhere' }), Status.NOT_FOUND);
  await rejectsWith(f.domain.updateDepartment(REGISTRAR, { department_id: math.id, name: '' }), Status.INVALID_ARGUMENT, { field: 'name' });

  const s = await f.section();
  await enrollAll(f, s, [10]);
  const before = await f.domain.getCourse(student(10), { course_id: f.courseId });
  const moved = await f.domain.updateCourse(REGISTRAR, { course_id: f.courseId, department_id: math.id });
  assert.deepEqual(moved, { ...before, department_id: math.id, department_name: 'APPLIED mathematics' });
  const recoded = await f.domain.updateCourse(REGISTRAR, { course_id: f.courseId, code: 'CPSC 450', name: 'Web Back-End II' });
  assert.deepEqual(recoded, { ...moved, code: 'CPSC 450', name: 'Web Back-End II' });
  assert.equal((await f.domain.getSection(student(10), { section_id: s })).course_code, 'CPSC 450');
  assert.equal((await f.domain.listSections(student(10), { course_id: f.courseId })).sections[0]!.course_code, 'CPSC 450');
  assert.equal(statusOf(f, 10, s), 'enrolled', 'enrollments are untouched');

  const other = await f.domain.createCourse(REGISTRAR, { code: 'MATH 101', name: 'Algebra', department_id: math.id });
  const snapshot = f.snapshot();
  await rejectsWith(f.domain.updateCourse(REGISTRAR, { course_id: other.id, code: 'cpsc 450' }), Status.ALREADY_EXISTS);
  await rejectsWith(f.domain.updateCourse(REGISTRAR, { course_id: other.id, department_id: 999 }), Status.NOT_FOUND);
  await rejectsWith(f.domain.updateCourse(REGISTRAR, { course_id: 999, name: 'Ghost' }), Status.NOT_FOUND);
  await rejectsWith(f.domain.updateCourse(REGISTRAR, { course_id: other.id, code: '' }), Status.INVALID_ARGUMENT, { field: 'code' });
  await rejectsWith(f.domain.updateCourse(REGISTRAR, { course_id: other.id, name: 'x'.repeat(201) }), Status.INVALID_ARGUMENT, { field: 'name' });
  assert.equal(f.snapshot(), snapshot, 'refused changes change nothing');
  // Nothing present: the course as it is.
  assert.deepEqual(await f.domain.updateCourse(REGISTRAR, { course_id: other.id }), other);
  f.close();
});

test('deleting: a department only without courses, a course only if it never had a section', async () => {
  const f = await setup();
  const math = await f.domain.createDepartment(REGISTRAR, { name: 'Mathematics' });
  const calc = await f.domain.createCourse(REGISTRAR, { code: 'MATH 150A', name: 'Calculus', department_id: math.id });
  const snapshot = f.snapshot();
  await rejectsWith(f.domain.deleteDepartment(REGISTRAR, { department_id: math.id }), Status.FAILED_PRECONDITION, { message: /has courses/ });
  await rejectsWith(f.domain.deleteDepartment(REGISTRAR, { department_id: 999 }), Status.NOT_FOUND);
  // The school's course has a section, deleted or not: it keeps its history.
  const s = await f.section();
  await f.domain.deleteSection(REGISTRAR, { section_id: s });
  const withDeleted = f.snapshot();
  await rejectsWith(f.domain.deleteCourse(REGISTRAR, { course_id: f.courseId }), Status.FAILED_PRECONDITION, { message: /has sections/ });
  await rejectsWith(f.domain.deleteCourse(REGISTRAR, { course_id: 999 }), Status.NOT_FOUND);
  assert.equal(f.snapshot(), withDeleted, 'refusals change nothing');
  assert.notEqual(snapshot, withDeleted);

  assert.deepEqual(await f.domain.deleteCourse(REGISTRAR, { course_id: calc.id }), calc);
  await rejectsWith(f.domain.getCourse(REGISTRAR, { course_id: calc.id }), Status.NOT_FOUND);
  assert.deepEqual(await f.domain.deleteDepartment(REGISTRAR, { department_id: math.id }), { id: math.id, name: 'Mathematics' });
  await rejectsWith(f.domain.getDepartment(REGISTRAR, { department_id: math.id }), Status.NOT_FOUND);
  // The name is free again.
  await f.domain.createDepartment(REGISTRAR, { name: 'Mathematics' });
  f.close();
});

test('updating changes only the present fields', async () => {
  const f = await setup();
  const s = await f.section({ capacity: 2 });
  const updated = await f.domain.updateSection(REGISTRAR, { section_id: s, classroom: 'EC 101', instructor_id: OTHER_INSTRUCTOR.userId });
  assert.equal(updated.classroom, 'EC 101');
  assert.equal(updated.instructor_id, OTHER_INSTRUCTOR.userId);
  assert.equal(updated.capacity, 2);
  assert.equal(updated.frozen, false);
  await rejectsWith(f.domain.updateSection(REGISTRAR, { section_id: s, instructor_id: 10 }), Status.FAILED_PRECONDITION);
  await rejectsWith(f.domain.updateSection(REGISTRAR, { section_id: s, instructor_id: 555 }), Status.NOT_FOUND, { message: /instructor_id: user 555/ });
  assert.equal((await f.domain.getSection(REGISTRAR, { section_id: s })).instructor_id, OTHER_INSTRUCTOR.userId, 'a refused change leaves the section as it was');
  await rejectsWith(f.domain.updateSection(REGISTRAR, { section_id: s, capacity: 0 }), Status.INVALID_ARGUMENT, { field: 'capacity' });
  await rejectsWith(f.domain.updateSection(REGISTRAR, { section_id: 999, capacity: 3 }), Status.NOT_FOUND);
  f.close();
});

test('capacity cannot go below the enrolled count, nor waitlist capacity below the waitlist', async () => {
  const f = await setup();
  const s = await f.section({ capacity: 2 });
  await enrollAll(f, s, [10, 11, 12, 13]);
  await rejectsWith(f.domain.updateSection(REGISTRAR, { section_id: s, capacity: 1 }), Status.FAILED_PRECONDITION);
  await rejectsWith(f.domain.updateSection(REGISTRAR, { section_id: s, waitlist_capacity: 1 }), Status.FAILED_PRECONDITION);
  const ok = await f.domain.updateSection(REGISTRAR, { section_id: s, capacity: 2, waitlist_capacity: 2 });
  assert.equal(ok.waitlist_capacity, 2);
  f.close();
});

test('deleting a section drops its students, clears its waitlist and hides it', async () => {
  const f = await setup();
  const s = await f.section({ capacity: 1 });
  const other = await f.section({ day: 'Friday' });
  await enrollAll(f, s, [10, 11]);
  const deleted = await f.domain.deleteSection(REGISTRAR, { section_id: s });
  assert.equal(deleted.deleted, true);
  assert.equal(deleted.enrolled_count, 0);
  assert.equal(deleted.waitlist_count, 0);
  assert.equal(statusOf(f, 10, s), 'dropped');
  assert.deepEqual(waitlistOf(f, s), []);
  await rejectsWith(f.domain.getSection(student(10), { section_id: s }), Status.NOT_FOUND);
  await rejectsWith(f.domain.deleteSection(REGISTRAR, { section_id: s }), Status.NOT_FOUND);
  await rejectsWith(f.domain.updateSection(REGISTRAR, { section_id: s, capacity: 5 }), Status.NOT_FOUND);
  await rejectsWith(f.domain.listSectionEnrollments(REGISTRAR, { section_id: s }), Status.NOT_FOUND);
  const listed = await f.domain.listSections(student(10), {});
  assert.deepEqual(listed.sections.map((x) => x.id), [other]);
  const mine = await f.domain.listUserSections(student(10), { user_id: 10 });
  assert.deepEqual(mine.sections, []);
  const history = await f.domain.listUserEnrollments(student(10), { user_id: 10 });
  assert.deepEqual(history.enrollments, []);
  f.close();
});

test('listSections filters by department, instructor, day and availability, together and across pages', async () => {
  const f = await setup();
  const ids = async (req: Parameters<typeof f.domain.listSections>[1]) => (await f.domain.listSections(student(10), req)).sections.map((x) => x.id);
  // a: full with waitlist room; c: full with no waitlist; d: free seats but frozen; b: free seats, elsewhere.
  const a = await f.section({ capacity: 1, day: 'Monday' });
  await enrollAll(f, a, [10]);
  const dept = await f.domain.createDepartment(REGISTRAR, { name: 'Mathematics' });
  const math = await f.domain.createCourse(REGISTRAR, { code: 'MATH 150A', name: 'Calculus I', department_id: dept.id });
  const b = await f.section({ course_id: math.id, day: 'Tuesday', instructor_id: OTHER_INSTRUCTOR.userId });
  const c = await f.section({ capacity: 1, waitlist_capacity: 0, day: 'Wednesday' });
  await enrollAll(f, c, [11]);
  const d = await f.section({ capacity: 5, day: 'Thursday' });
  await f.domain.updateSection(REGISTRAR, { section_id: d, frozen: true });

  assert.deepEqual(await ids({}), [a, b, c, d]);
  assert.deepEqual(await ids({ department_id: 1 }), [a, c, d]);
  assert.deepEqual(await ids({ department_id: dept.id }), [b]);
  assert.deepEqual(await ids({ instructor_id: OTHER_INSTRUCTOR.userId }), [b]);
  assert.deepEqual(await ids({ day: 'tuesday' }), [b]);
  assert.deepEqual(await ids({ availability: 'seats' }), [b]);
  assert.deepEqual(await ids({ availability: 'open' }), [a, b]);
  assert.deepEqual(await ids({ availability: 'open', department_id: 1 }), [a]);
  assert.deepEqual(await ids({ availability: 'open', day: 'Wednesday' }), []);
  assert.deepEqual(await ids({ department_id: 999 }), [], 'an unknown id matches nothing');

  const first = await f.domain.listSections(student(10), { availability: 'open', page_size: 1 });
  assert.deepEqual(first.sections.map((x) => x.id), [a]);
  const second = await f.domain.listSections(student(10), { availability: 'open', page_size: 1, page_token: first.next_page_token });
  assert.deepEqual(second.sections.map((x) => x.id), [b]);

  await rejectsWith(f.domain.listSections(student(10), { day: 'Funday' }), Status.INVALID_ARGUMENT, { field: 'day' });
  await rejectsWith(f.domain.listSections(student(10), { availability: 'full' }), Status.INVALID_ARGUMENT, { field: 'availability' });
  await rejectsWith(f.domain.listSections(student(10), { instructor_id: -2 }), Status.INVALID_ARGUMENT, { field: 'instructor_id' });
  f.close();
});

test('listSections filters by course', async () => {
  const f = await setup();
  const a = await f.section();
  const dept = await f.domain.createDepartment(REGISTRAR, { name: 'Mathematics' });
  const c = await f.domain.createCourse(REGISTRAR, { code: 'MATH 150A', name: 'Calculus I', department_id: dept.id });
  const b = await f.domain.createSection(REGISTRAR, { ...valid(c.id) });
  assert.deepEqual((await f.domain.listSections(student(10), { course_id: f.courseId })).sections.map((x) => x.id), [a]);
  assert.deepEqual((await f.domain.listSections(student(10), { course_id: c.id })).sections.map((x) => x.id), [b.id]);
  const courses = await f.domain.listCourses(student(10), { department_id: dept.id });
  assert.deepEqual(courses.courses.map((x) => x.code), ['MATH 150A']);
  await rejectsWith(f.domain.listSections(student(10), { course_id: -1 }), Status.INVALID_ARGUMENT, { field: 'course_id' });
  f.close();
});

for (const readThroughWriter of [false, true]) {
  const reader = readThroughWriter ? 'through the write connection' : 'on a connection of its own';
  test(`catalogue listings read ${reader} show every write at once (answers are memoised per version)`, async () => {
    const f = await setup({ readThroughWriter });
    const id = await f.section({ capacity: 1, waitlist_capacity: 1 });
    const counts = async () => {
      const s = (await f.domain.listSections(student(10), {})).sections.find((x) => x.id === id)!;
      return [s.enrolled_count, s.waitlist_count];
    };
    assert.deepEqual(await counts(), [0, 0]);
    assert.deepEqual(await counts(), [0, 0]);
    await f.domain.createEnrollment(student(10), { user_id: 10, section_id: id });
    assert.deepEqual(await counts(), [1, 0]);
    await f.domain.createEnrollment(student(11), { user_id: 11, section_id: id });
    assert.deepEqual(await counts(), [1, 1]);
    await f.domain.dropUserEnrollment(student(10), { user_id: 10, section_id: id });
    assert.deepEqual(await counts(), [1, 0], 'the waitlisted student was promoted');

    const courses = async () => (await f.domain.listCourses(student(10), {})).courses.map((c) => c.code);
    const departments = async () => (await f.domain.listDepartments(student(10), {})).departments.map((d) => d.name);
    assert.deepEqual(await courses(), ['CPSC 449']);
    assert.deepEqual(await departments(), ['Computer Science']);
    const dept = await f.domain.createDepartment(REGISTRAR, { name: 'Mathematics' });
    await f.domain.createCourse(REGISTRAR, { code: 'MATH 150A', name: 'Calculus I', department_id: dept.id });
    assert.deepEqual(await courses(), ['CPSC 449', 'MATH 150A']);
    assert.deepEqual(await departments(), ['Computer Science', 'Mathematics']);
    f.close();
  });
}

test('listCourses searches code and name by words, in any case, with the department filter and paging', async () => {
  const f = await setup();
  const codes = async (req: Parameters<typeof f.domain.listCourses>[1]) => (await f.domain.listCourses(student(10), req)).courses.map((c) => c.code);
  const math = await f.domain.createDepartment(REGISTRAR, { name: 'Mathematics' });
  await f.domain.createCourse(REGISTRAR, { code: 'CPSC 471', name: 'Software Engineering', department_id: 1 });
  await f.domain.createCourse(REGISTRAR, { code: 'MATH 250A', name: 'Calculus III', department_id: math.id });
  await f.domain.createCourse(REGISTRAR, { code: 'MATH 338', name: 'Statistics Applied to Engineering', department_id: math.id });

  assert.deepEqual(await codes({ query: 'cpsc' }), ['CPSC 449', 'CPSC 471']);
  assert.deepEqual(await codes({ query: 'ENGINEERING' }), ['CPSC 471', 'MATH 338']);
  assert.deepEqual(await codes({ query: '  engineering   math ' }), ['MATH 338'], 'every word, in code or name');
  assert.deepEqual(await codes({ query: 'engineering', department_id: 1 }), ['CPSC 471']);
  assert.deepEqual(await codes({ query: 'back end' }), ['CPSC 449'], 'the fixture course is "Web Back-End"');
  assert.deepEqual(await codes({ query: 'physics' }), []);
  assert.deepEqual(await codes({ query: '%' }), [], 'no wildcards: % is a character like any other');
  assert.deepEqual(await codes({ query: '' }), ['CPSC 449', 'CPSC 471', 'MATH 250A', 'MATH 338']);

  const first = await f.domain.listCourses(student(10), { query: 'engineering', page_size: 1 });
  assert.deepEqual(first.courses.map((c) => c.code), ['CPSC 471']);
  const second = await f.domain.listCourses(student(10), { query: 'engineering', page_size: 1, page_token: first.next_page_token });
  assert.deepEqual(second.courses.map((c) => c.code), ['MATH 338']);

  await rejectsWith(f.domain.listCourses(student(10), { query: 'a b c d e f' }), Status.INVALID_ARGUMENT, { field: 'query' });
  await rejectsWith(f.domain.listCourses(student(10), { query: 'x'.repeat(201) }), Status.INVALID_ARGUMENT, { field: 'query' });
  f.close();
});

test('a classroom holds one section at a time: creating, moving or changing rooms onto a taken one is refused; back to back, or once deleted, is fine', async () => {
  const f = await setup();
  const first = await f.domain.createSection(REGISTRAR, valid(f.courseId)); // CS102, Tuesday 19:00-21:45
  const before = f.snapshot();
  await rejectsWith(f.domain.createSection(REGISTRAR, { ...valid(f.courseId), classroom: 'cs102', begin_time: '21:00', end_time: '22:00' }), Status.FAILED_PRECONDITION, {
    message: new RegExp(`classroom cs102 is taken by section ${first.id} at that time`),
  });
  assert.equal(f.snapshot(), before);
  const elsewhere = await f.section({ day: 'Tuesday', begin_time: '20:00', end_time: '21:00', instructor_id: OTHER_INSTRUCTOR.userId });
  await rejectsWith(f.domain.updateSection(REGISTRAR, { section_id: elsewhere, classroom: 'CS102' }), Status.FAILED_PRECONDITION, { message: /CS102 is taken/ });
  const later = await f.domain.createSection(REGISTRAR, { ...valid(f.courseId), begin_time: '21:45', end_time: '22:30' });
  await rejectsWith(f.domain.updateSection(REGISTRAR, { section_id: later.id, begin_time: '21:30' }), Status.FAILED_PRECONDITION, { message: /CS102 is taken/ });
  assert.equal((await f.domain.getSection(REGISTRAR, { section_id: later.id })).begin_time, '21:45');
  // A section keeps its own room when it moves within it.
  assert.equal((await f.domain.updateSection(REGISTRAR, { section_id: first.id, end_time: '21:30' })).end_time, '21:30');
  await f.domain.deleteSection(REGISTRAR, { section_id: first.id });
  assert.equal((await f.domain.updateSection(REGISTRAR, { section_id: elsewhere, classroom: 'CS102' })).classroom, 'CS102');
  f.close();
});

test('an instructor teaches one section at a time: creating, moving or handing over a section that overlaps another of theirs is refused; back to back, or once deleted, is fine', async () => {
  const f = await setup();
  const first = await f.domain.createSection(REGISTRAR, valid(f.courseId)); // INSTRUCTOR, Tuesday 19:00-21:45
  const before = f.snapshot();
  await rejectsWith(
    f.domain.createSection(REGISTRAR, { ...valid(f.courseId), classroom: 'CS999', begin_time: '21:00', end_time: '22:00' }),
    Status.FAILED_PRECONDITION,
    { message: new RegExp(`instructor ${INSTRUCTOR.userId} teaches section ${first.id} at that time`) },
  );
  assert.equal(f.snapshot(), before);
  // Another instructor at the same hour, in another room, is fine; handing it to the first is not.
  const other = await f.section({ day: 'Tuesday', begin_time: '20:00', end_time: '21:00', instructor_id: OTHER_INSTRUCTOR.userId });
  const withOther = f.snapshot();
  await rejectsWith(f.domain.updateSection(REGISTRAR, { section_id: other, instructor_id: INSTRUCTOR.userId }), Status.FAILED_PRECONDITION, {
    message: new RegExp(`teaches section ${first.id}`),
  });
  assert.equal(f.snapshot(), withOther);
  // Back to back is no clash, but moving into the first section's hours is.
  const later = await f.section({ day: 'Tuesday', begin_time: '21:45', end_time: '22:30' });
  await rejectsWith(f.domain.updateSection(REGISTRAR, { section_id: later, begin_time: '21:30' }), Status.FAILED_PRECONDITION, {
    message: new RegExp(`teaches section ${first.id}`),
  });
  await rejectsWith(f.domain.updateSection(REGISTRAR, { section_id: later, day: 'Tuesday', begin_time: '19:00', end_time: '19:30' }), Status.FAILED_PRECONDITION, {
    message: /teaches section/,
  });
  assert.equal((await f.domain.getSection(REGISTRAR, { section_id: later })).begin_time, '21:45');
  assert.equal((await f.domain.getSection(REGISTRAR, { section_id: other })).instructor_id, OTHER_INSTRUCTOR.userId);
  // A section does not clash with itself when it moves within its own hours.
  assert.equal((await f.domain.updateSection(REGISTRAR, { section_id: first.id, end_time: '21:30' })).end_time, '21:30');
  // Once the first section is deleted, its instructor is free then.
  await f.domain.deleteSection(REGISTRAR, { section_id: first.id });
  assert.equal((await f.domain.updateSection(REGISTRAR, { section_id: other, instructor_id: INSTRUCTOR.userId })).instructor_id, INSTRUCTOR.userId);
  f.close();
});

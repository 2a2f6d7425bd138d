import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Status } from '../../../lib/errors.js';
import { loadProto, serviceClient } from '../../../lib/grpc/proto.js';
import type { Actor } from './actor.js';
import { EnrollDomain } from './enroll-domain.js';
import { enrollAll, INSTRUCTOR, OTHER_INSTRUCTOR, REGISTRAR, rejectsWith, setup, student, type Fixture } from './fixture.js';

const ACTORS = {
  registrar: REGISTRAR,
  /** Teaches section `s`. */
  instructor: INSTRUCTOR,
  /** Teaches section `w` only. */
  otherInstructor: OTHER_INSTRUCTOR,
  /** Student 10: enrolled in `s`, waitlisted in `w`; the target user of the per-user methods. */
  self: student(10),
  otherStudent: student(11),
  /** Authenticated, but with no role at all. */
  noRole: { userId: 12, username: 's12', roles: [] } as Actor,
};
type Who = keyof typeof ACTORS;
const ALL = Object.keys(ACTORS) as Who[];

interface World {
  f: Fixture;
  s: number;
  w: number;
  /** A section with free seats that nobody is in. */
  free: number;
  /** A department with no courses, and a course that never had a section: both deletable. */
  emptyDepartment: number;
  bareCourse: number;
  /** A hold on student 13. */
  hold: number;
}

async function world(): Promise<World> {
  const f = await setup();
  const s = await f.section({ capacity: 1 });
  const w = await f.section({ capacity: 1, day: 'Tuesday', instructor_id: OTHER_INSTRUCTOR.userId });
  await enrollAll(f, s, [10, 13]);
  await enrollAll(f, w, [14, 10]);
  const free = await f.section({ course_id: await f.course(), day: 'Sunday' });
  const emptyDepartment = (await f.domain.createDepartment(REGISTRAR, { name: 'Empty' })).id;
  const bareCourse = (await f.domain.createCourse(REGISTRAR, { code: 'BARE 1', name: 'Bare', department_id: 1 })).id;
  const hold = (await f.domain.createUserHold(REGISTRAR, { user_id: 13, reason: 'library fine' })).id;
  return { f, s, w, free, emptyDepartment, bareCourse, hold };
}

const MATRIX: Array<[string, Who[], (x: World, a: Actor) => Promise<unknown>]> = [
  ['listDepartments', ALL, (x, a) => x.f.domain.listDepartments(a, {})],
  ['getDepartment', ALL, (x, a) => x.f.domain.getDepartment(a, { department_id: 1 })],
  ['listCourses', ALL, (x, a) => x.f.domain.listCourses(a, {})],
  ['getCourse', ALL, (x, a) => x.f.domain.getCourse(a, { course_id: x.f.courseId })],
  ['listCoursePrerequisites', ALL, (x, a) => x.f.domain.listCoursePrerequisites(a, { course_id: x.f.courseId })],
  ['listSections', ALL, (x, a) => x.f.domain.listSections(a, {})],
  ['getSection', ALL, (x, a) => x.f.domain.getSection(a, { section_id: x.s })],
  ['createDepartment', ['registrar'], (x, a) => x.f.domain.createDepartment(a, { name: 'Physics' })],
  ['updateDepartment', ['registrar'], (x, a) => x.f.domain.updateDepartment(a, { department_id: 1, name: 'Physics' })],
  ['deleteDepartment', ['registrar'], (x, a) => x.f.domain.deleteDepartment(a, { department_id: x.emptyDepartment })],
  ['deleteCourse', ['registrar'], (x, a) => x.f.domain.deleteCourse(a, { course_id: x.bareCourse })],
  ['setCoursePrerequisites', ['registrar'], (x, a) => x.f.domain.setCoursePrerequisites(a, { course_id: x.f.courseId, prerequisite_ids: [x.bareCourse] })],
  ['updateCourse', ['registrar'], (x, a) => x.f.domain.updateCourse(a, { course_id: x.f.courseId, name: 'Renamed' })],
  ['createCourse', ['registrar'], (x, a) => x.f.domain.createCourse(a, { code: 'PHYS 1', name: 'Mechanics', department_id: 1 })],
  [
    'createSection',
    ['registrar'],
    (x, a) =>
      x.f.domain.createSection(a, {
        course_id: x.f.courseId,
        classroom: 'A',
        capacity: 5,
        day: 'Friday',
        begin_time: '08:00',
        end_time: '09:00',
        instructor_id: INSTRUCTOR.userId,
      }),
  ],
  ['updateSection', ['registrar'], (x, a) => x.f.domain.updateSection(a, { section_id: x.s, capacity: 5 })],
  ['deleteSection', ['registrar'], (x, a) => x.f.domain.deleteSection(a, { section_id: x.s })],
  ['listUsers', ['registrar'], (x, a) => x.f.domain.listUsers(a, {})],
  ['listCourseWaitlist', ['registrar', 'instructor', 'otherInstructor'], (x, a) => x.f.domain.listCourseWaitlist(a, { course_id: x.f.courseId })],
  ['listSectionEnrollments', ['registrar', 'instructor'], (x, a) => x.f.domain.listSectionEnrollments(a, { section_id: x.s })],
  ['listSectionWaitlist', ['registrar', 'instructor'], (x, a) => x.f.domain.listSectionWaitlist(a, { section_id: x.s })],
  ['listSectionEnrollmentEvents', ['registrar', 'instructor'], (x, a) => x.f.domain.listSectionEnrollmentEvents(a, { section_id: x.s })],
  ['dropSectionEnrollment', ['registrar', 'instructor'], (x, a) => x.f.domain.dropSectionEnrollment(a, { section_id: x.s, user_id: 10 })],
  ['setEnrollmentGrade', ['registrar', 'instructor'], (x, a) => x.f.domain.setEnrollmentGrade(a, { section_id: x.s, user_id: 10, grade: 'A' })],
  ['getUser', ['registrar', 'self'], (x, a) => x.f.domain.getUser(a, { user_id: 10 })],
  ['listUserEnrollments', ['registrar', 'self'], (x, a) => x.f.domain.listUserEnrollments(a, { user_id: 10 })],
  ['listUserEnrollmentEvents', ['registrar', 'self'], (x, a) => x.f.domain.listUserEnrollmentEvents(a, { user_id: 10 })],
  ['getUserTranscript', ['registrar', 'self'], (x, a) => x.f.domain.getUserTranscript(a, { user_id: 10 })],
  ['listUserSections', ['registrar', 'self'], (x, a) => x.f.domain.listUserSections(a, { user_id: 10 })],
  ['listUserWaitlist', ['registrar', 'self'], (x, a) => x.f.domain.listUserWaitlist(a, { user_id: 10 })],
  ['dropUserEnrollment', ['registrar', 'self'], (x, a) => x.f.domain.dropUserEnrollment(a, { user_id: 10, section_id: x.s })],
  ['dropUserWaitlist', ['registrar', 'self'], (x, a) => x.f.domain.dropUserWaitlist(a, { user_id: 10, section_id: x.w })],
  ['createEnrollment', ['registrar', 'self'], (x, a) => x.f.domain.createEnrollment(a, { user_id: 10, section_id: x.free })],
  ['listUserHolds', ['registrar', 'self'], (x, a) => x.f.domain.listUserHolds(a, { user_id: 10 })],
  ['createUserHold', ['registrar'], (x, a) => x.f.domain.createUserHold(a, { user_id: 10, reason: 'unpaid fees' })],
  ['deleteUserHold', ['registrar'], (x, a) => x.f.domain.deleteUserHold(a, { user_id: 13, hold_id: x.hold })],
  ['getRegistrationPeriod', ALL, (x, a) => x.f.domain.getRegistrationPeriod(a, {})],
  ['setRegistrationPeriod', ['registrar'], (x, a) => x.f.domain.setRegistrationPeriod(a, { closes_at: '2030-01-01T00:00:00Z' })],
];

test('the permission matrix covers every RPC of the proto, and the domain has a method for each', () => {
  const service = serviceClient(loadProto('enroll/v1/enroll.proto').grpcObject, 'enroll.v1.EnrollService').service;
  const rpcs = Object.values(service).map((m) => m.originalName!);
  assert.ok(rpcs.length > 20, `only ${rpcs.length} methods loaded`);
  const notRpcs = ['constructor', 'syncUsers', 'syncUserChanges', 'memoStats'];
  const domainMethods = Object.getOwnPropertyNames(EnrollDomain.prototype).filter((n) => !notRpcs.includes(n));
  assert.deepEqual(domainMethods.sort(), [...rpcs].sort());
  assert.deepEqual(MATRIX.map(([name]) => name).sort(), [...rpcs].sort());
});

for (const [method, allowed, call] of MATRIX) {
  test(`permissions: ${method} allows ${allowed.join(', ')} only; a refusal changes nothing`, async () => {
    for (const who of ALL) {
      const x = await world();
      if (allowed.includes(who)) {
        await call(x, ACTORS[who]);
      } else {
        const before = x.f.snapshot();
        await rejectsWith(call(x, ACTORS[who]), Status.PERMISSION_DENIED);
        assert.equal(x.f.snapshot(), before, `${method} by ${who} changed the database`);
      }
      x.f.close();
    }
  });
}

test('createEnrollment: a user with the id but without the student role is refused', async () => {
  const x = await world();
  const impostor: Actor = { userId: 10, username: 's10', roles: ['instructor'] };
  await rejectsWith(x.f.domain.createEnrollment(impostor, { user_id: 10, section_id: x.w }), Status.PERMISSION_DENIED);
  x.f.close();
});

test('listCourseWaitlist: an instructor sees only the sections they teach', async () => {
  const x = await world();
  const mine = await x.f.domain.listCourseWaitlist(INSTRUCTOR, { course_id: x.f.courseId });
  assert.deepEqual(mine.entries.map((e) => [e.section_id, e.user_id, e.position]), [[x.s, 13, 1]]);
  const theirs = await x.f.domain.listCourseWaitlist(OTHER_INSTRUCTOR, { course_id: x.f.courseId });
  assert.deepEqual(theirs.entries.map((e) => [e.section_id, e.user_id]), [[x.w, 10]]);
  const all = await x.f.domain.listCourseWaitlist(REGISTRAR, { course_id: x.f.courseId });
  assert.deepEqual(all.entries.map((e) => [e.section_id, e.user_id, e.username]), [[x.s, 13, 's13'], [x.w, 10, 's10']]);
  await rejectsWith(x.f.domain.listCourseWaitlist(REGISTRAR, { course_id: 999 }), Status.NOT_FOUND);
  x.f.close();
});

test('the instructor of one section cannot read the rosters of another', async () => {
  const x = await world();
  await rejectsWith(x.f.domain.listSectionEnrollments(INSTRUCTOR, { section_id: x.w }), Status.PERMISSION_DENIED);
  await rejectsWith(x.f.domain.listSectionWaitlist(INSTRUCTOR, { section_id: x.w }), Status.PERMISSION_DENIED);
  const roster = await x.f.domain.listSectionWaitlist(OTHER_INSTRUCTOR, { section_id: x.w });
  assert.deepEqual(roster.entries.map((e) => e.user_id), [10]);
  x.f.close();
});

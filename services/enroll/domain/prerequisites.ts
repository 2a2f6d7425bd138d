/**
 * Prerequisites: the courses a student must have passed before enrolling in a
 * section of another. Anyone signed in reads them; the registrar sets them.
 * Enrolling and joining a waitlist check them (see enrollments.ts), and so
 * does a promotion, unless the registrar waived them for that place in line:
 * a grade may have changed since the student joined. A list that no longer
 * requires a course walks the lines of the course's sections again.
 */
import { failedPrecondition, invalidArgument } from '../../../lib/errors.js';
import type { CoursePrerequisites__Output } from '../../../gen/ts/enroll/v1/CoursePrerequisites.js';
import type { ListCoursePrerequisitesRequest } from '../../../gen/ts/enroll/v1/ListCoursePrerequisitesRequest.js';
import type { SetCoursePrerequisitesRequest } from '../../../gen/ts/enroll/v1/SetCoursePrerequisitesRequest.js';
import type { CourseRow } from '../store/rows.js';
import type { EnrollStore } from '../store/store.js';
import { requireRegistrar, type Actor } from './actor.js';
import type { DomainContext } from './context.js';
import { toCourse } from './convert.js';
import { requireCourse } from './lookups.js';
import { enrollRead, enrollWrite } from './operations.js';
import { promoteWaitlistsOf } from './promotion.js';
import { LIMITS, NOT_PASSING_GRADES, requireId, requireIds } from './validate.js';

/** "CPSC 240 (course 2)": how errors name a course. */
export const courseLabel = (c: CourseRow): string => `${c.code} (course ${c.id})`;

function prerequisitesOf(store: EnrollStore, courseId: number): CoursePrerequisites__Output {
  return { course_id: courseId, prerequisites: store.prerequisites.list(courseId).map(toCourse) };
}

export async function listCoursePrerequisites(
  ctx: DomainContext,
  _actor: Actor,
  req: ListCoursePrerequisitesRequest,
): Promise<CoursePrerequisites__Output> {
  return ctx.query(readPrerequisites, requireId('course_id', req.course_id));
}

const readPrerequisites = enrollRead('listCoursePrerequisites', (store, courseId: number) => {
  requireCourse(store, courseId);
  return prerequisitesOf(store, courseId);
});

/** Registrar only: replaces the whole set, so the answer is what is stored. */
export async function setCoursePrerequisites(
  ctx: DomainContext,
  actor: Actor,
  req: SetCoursePrerequisitesRequest,
): Promise<CoursePrerequisites__Output> {
  requireRegistrar(actor);
  const courseId = requireId('course_id', req.course_id);
  const prerequisiteIds = requireIds('prerequisite_ids', req.prerequisite_ids, LIMITS.prerequisitesPerCourse);
  if (prerequisiteIds.includes(courseId)) throw invalidArgument('prerequisite_ids', 'a course cannot be its own prerequisite');
  return ctx.write(replacePrerequisites, { courseId, prerequisiteIds });
}

const replacePrerequisites = enrollWrite(
  'setCoursePrerequisites',
  (store, { courseId, prerequisiteIds }: { courseId: number; prerequisiteIds: number[] }) => {
    const course = requireCourse(store, courseId);
    for (const id of prerequisiteIds) requireCourse(store, id);
    // A circle would leave no course of it that anyone could take first.
    if (store.prerequisites.isRequiredThrough(prerequisiteIds, courseId)) {
      throw failedPrecondition(`${courseLabel(course)} is already required by one of these courses, directly or through others`);
    }
    const before = store.prerequisites.list(courseId);
    store.prerequisites.replace(courseId, prerequisiteIds);
    // A student skipped in line for a prerequisite no longer required may take
    // a seat left free for them, before whoever enrolls next.
    if (before.some((c) => !prerequisiteIds.includes(c.id))) {
      promoteWaitlistsOf(store, [], store.sections.liveSectionsOfCourse(courseId));
    }
    return prerequisitesOf(store, courseId);
  },
);

/** Whether the student has passed every prerequisite of the course. */
export function passedPrerequisites(store: EnrollStore, userId: number, courseId: number): boolean {
  return store.prerequisites.firstMissing(userId, courseId, NOT_PASSING_GRADES) === undefined;
}

/**
 * Inside an enrolling write: FAILED_PRECONDITION naming the first
 * prerequisite of the course the student has not passed.
 */
export function requirePrerequisitesPassed(store: EnrollStore, userId: number, courseId: number): void {
  const missing = store.prerequisites.firstMissing(userId, courseId, NOT_PASSING_GRADES);
  if (missing) throw failedPrecondition(`user ${userId} has not passed ${courseLabel(missing)}, a prerequisite of this course`);
}

/**
 * A student's load: the credits of the courses they are enrolled in and not
 * yet graded in. Enrolling, joining a waitlist and a promotion each keep it
 * within the limit; a grade ends a course's share of it.
 */
import { failedPrecondition } from '../../../lib/errors.js';
import type { SectionRow } from '../store/rows.js';
import type { EnrollStore } from '../store/store.js';

/** The most credits a student carries at once. */
export const MAX_CREDITS_PER_STUDENT = 18;

/** Whether `credits` more keep the student within the limit. */
export function fitsLoad(store: EnrollStore, userId: number, credits: number): boolean {
  return store.enrollments.creditLoad(userId) + credits <= MAX_CREDITS_PER_STUDENT;
}

/** Inside an enrolling write: FAILED_PRECONDITION when the section's course would take the student past the limit. */
export function requireLoadFits(store: EnrollStore, userId: number, section: SectionRow): void {
  if (fitsLoad(store, userId, section.course_credits)) return;
  const load = store.enrollments.creditLoad(userId);
  throw failedPrecondition(
    `user ${userId} carries ${load} credits; ${section.course_code} adds ${section.course_credits}, past the limit of ${MAX_CREDITS_PER_STUDENT}`,
  );
}

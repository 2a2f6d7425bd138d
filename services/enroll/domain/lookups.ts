/** Loading the rows an operation is about, NOT_FOUND when absent. */
import { failedPrecondition, notFound } from '../../../lib/errors.js';
import type { CourseRow, DepartmentRow, SectionRow, UserRow } from '../store/rows.js';
import type { EnrollStore } from '../store/store.js';
import { couldBeSectionStaff, requireSectionStaff, STUDENT, type Actor } from './actor.js';
import { parseRoles } from './convert.js';

/** A live section: a deleted one is gone as far as the API is concerned. */
export function requireSection(store: EnrollStore, id: number): SectionRow {
  const section = store.sections.getSection(id);
  if (!section || section.deleted === 1) throw notFound(`section ${id}`);
  return section;
}

export function requireDepartment(store: EnrollStore, id: number): DepartmentRow {
  const department = store.catalogue.getDepartment(id);
  if (!department) throw notFound(`department ${id}`);
  return department;
}

export function requireCourse(store: EnrollStore, id: number): CourseRow {
  const course = store.catalogue.getCourse(id);
  if (!course) throw notFound(`course ${id}`);
  return course;
}

export function requireUser(store: EnrollStore, id: number): UserRow {
  const user = store.users.getUser(id);
  if (!user) throw notFound(`user ${id}`);
  return user;
}

/** A known user with the student role: FAILED_PRECONDITION for anyone else (enrolling them, holding them). */
export function requireStudent(store: EnrollStore, id: number): UserRow {
  const user = requireUser(store, id);
  if (!parseRoles(user.roles).includes(STUDENT)) throw failedPrecondition(`user ${id} is not a student`);
  return user;
}

/**
 * For listings about a user: NOT_FOUND for another user unknown here. A caller
 * asking about themself exists (they hold a token) even if our copy has not
 * caught up yet, so they get empty lists instead.
 */
export function requireListedUser(actor: Actor, store: EnrollStore, userId: number): void {
  if (actor.userId !== userId) requireUser(store, userId);
}

/**
 * For listings about a section: the live section, once the caller is known to
 * be its instructor or the registrar (students are refused before the lookup).
 */
export function requireSectionForStaff(actor: Actor, store: EnrollStore, sectionId: number): SectionRow {
  couldBeSectionStaff(actor);
  const section = requireSection(store, sectionId);
  requireSectionStaff(actor, section.instructor_id);
  return section;
}

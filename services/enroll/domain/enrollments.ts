/** Enrolling, dropping, and the enrollment rosters of sections and users. */
import { alreadyExists, failedPrecondition, invalidArgument, notFound, permissionDenied } from '../../../lib/errors.js';
import type { CreateEnrollmentRequest } from '../../../gen/ts/enroll/v1/CreateEnrollmentRequest.js';
import type { CreateEnrollmentResponse__Output } from '../../../gen/ts/enroll/v1/CreateEnrollmentResponse.js';
import type { DropResponse__Output } from '../../../gen/ts/enroll/v1/DropResponse.js';
import type { DropSectionEnrollmentRequest } from '../../../gen/ts/enroll/v1/DropSectionEnrollmentRequest.js';
import type { DropUserEnrollmentRequest } from '../../../gen/ts/enroll/v1/DropUserEnrollmentRequest.js';
import type { ListEnrollmentsResponse__Output } from '../../../gen/ts/enroll/v1/ListEnrollmentsResponse.js';
import type { ListSectionEnrollmentsRequest } from '../../../gen/ts/enroll/v1/ListSectionEnrollmentsRequest.js';
import type { ListUserEnrollmentsRequest } from '../../../gen/ts/enroll/v1/ListUserEnrollmentsRequest.js';
import type { Enrollment__Output } from '../../../gen/ts/enroll/v1/Enrollment.js';
import type { SetEnrollmentGradeRequest } from '../../../gen/ts/enroll/v1/SetEnrollmentGradeRequest.js';
import type { SectionRow } from '../store/rows.js';
import type { EnrollStore } from '../store/store.js';
import {
  couldBeSectionStaff,
  hasRole,
  isRegistrar,
  requireSectionStaff,
  requireSelfOrRegistrar,
  STUDENT,
  type Actor,
} from './actor.js';
import type { DomainContext } from './context.js';
import { enrollRead, enrollWrite } from './operations.js';
import { toEnrollment } from './convert.js';
import { requireListedUser, requireSection, requireSectionForStaff, requireStudent } from './lookups.js';
import { readPage, toPage } from '../../../lib/pagination.js';
import { requireLoadFits } from './credits.js';
import { requireNoHold } from './holds.js';
import { requirePrerequisitesPassed } from './prerequisites.js';
import { periodCheckTime, requirePeriodOpen } from './registration-period.js';
import { promoteFromWaitlist, promoteWaitlistsOf } from './promotion.js';
import { gradeValue, optionalId, requireId, statusFilter } from './validate.js';

/** How many waitlists (of live sections) one student may be on at once. */
export const MAX_WAITLISTS_PER_STUDENT = 3;

/**
 * Enrolls a student, or puts them on the waitlist when the section is full;
 * with replacing_section_id, swaps one of their sections for a seat in this
 * one. Allowed for the student themself or the registrar on a student's behalf.
 */
export async function createEnrollment(
  ctx: DomainContext,
  actor: Actor,
  req: CreateEnrollmentRequest,
): Promise<CreateEnrollmentResponse__Output> {
  const userId = requireId('user_id', req.user_id);
  const sectionId = requireId('section_id', req.section_id);
  const self = actor.userId === userId && hasRole(actor, STUDENT);
  if (!self && !isRegistrar(actor)) throw permissionDenied('a student enrolls themself, or the registrar enrolls a student');
  const waivePrerequisites = req.waive_prerequisites === true;
  if (waivePrerequisites && !isRegistrar(actor)) throw permissionDenied('only the registrar waives prerequisites');

  const replacingId = optionalId('replacing_section_id', req.replacing_section_id);
  if (replacingId === sectionId) throw invalidArgument('replacing_section_id', 'must name another section than section_id');

  await ctx.ensureUsersKnown(userId);
  const args = { userId, sectionId, waivePrerequisites, periodAt: periodCheckTime(ctx, actor), actorId: actor.userId };
  return replacingId === null ? ctx.write(enroll, args) : ctx.write(swap, { ...args, replacingId });
}

interface EnrollArgs {
  userId: number;
  sectionId: number;
  waivePrerequisites: boolean;
  /** When the registration period applies (a student acting), the time to check it at. */
  periodAt: string | null;
  /** Who asks: the student or the registrar (for the enrollment events). */
  actorId: number;
}

const enroll = enrollWrite('createEnrollment', (store, { userId, sectionId, waivePrerequisites, periodAt, actorId }: EnrollArgs): CreateEnrollmentResponse__Output => {
  const section = requireEnrollable(store, userId, sectionId, periodAt);
  if (store.waitlist.getWaitlistEntry(userId, sectionId)) {
    throw alreadyExists(`user ${userId} is already on the waitlist of section ${sectionId}`);
  }
  // A student takes a course in one section: one they hold now is what a
  // seat here would replace.
  const held = store.enrollments.otherSeatInCourse(userId, section.course_id, sectionId);
  requireAdmissible(store, userId, section, waivePrerequisites, held);

  if (section.enrolled_count < section.capacity) {
    if (held !== undefined) {
      throw failedPrecondition(
        `user ${userId} takes ${section.course_code} in section ${held}; to change to section ${sectionId}, enroll with replacing_section_id ${held}`,
      );
    }
    store.enrollments.enroll(userId, sectionId);
    store.events.record(userId, sectionId, 'enrolled', actorId);
    return enrolled(userId, sectionId);
  }
  if (section.waitlist_count >= section.waitlist_capacity) {
    throw failedPrecondition(`section ${sectionId} is full and its waitlist is full`);
  }
  if (store.waitlist.countUserWaitlists(userId) >= MAX_WAITLISTS_PER_STUDENT) {
    throw failedPrecondition(`section ${sectionId} is full and the waitlist limit of ${MAX_WAITLISTS_PER_STUDENT} is reached`);
  }
  // With a seat in another section of the course, the wait is to change
  // sections: a promotion gives that seat up (see promoteFromWaitlist).
  const position = store.waitlist.append(userId, sectionId, waivePrerequisites);
  store.events.record(userId, sectionId, 'waitlisted', actorId);
  return { ...enrolled(userId, sectionId), status: 'waitlisted', position };
});

/**
 * A swap: gives up `replacingId` for a seat in `sectionId`, or changes
 * nothing. The old enrollment is dropped first, so the new section is judged
 * without it; any refusal after that rolls the drop back with the rest of
 * this operation (its savepoint).
 */
const swap = enrollWrite('swapEnrollment', (store, { userId, sectionId, replacingId, waivePrerequisites, periodAt, actorId }: EnrollArgs & { replacingId: number }): CreateEnrollmentResponse__Output => {
  const section = requireEnrollable(store, userId, sectionId, periodAt);
  const replacing = requireSection(store, replacingId);
  requireDropped(store, userId, replacingId, actorId);
  const held = store.enrollments.otherSeatInCourse(userId, section.course_id, sectionId);
  if (held !== undefined) {
    throw failedPrecondition(`user ${userId} takes ${section.course_code} in section ${held}; a swap replaces that section, not section ${replacingId}`);
  }
  requireAdmissible(store, userId, section, waivePrerequisites);
  if (section.enrolled_count >= section.capacity) {
    const wait = replacing.course_id === section.course_id ? `; to wait for one in its place, enroll without replacing_section_id` : '';
    throw failedPrecondition(`section ${sectionId} has no free seat; a swap does not wait, so user ${userId} keeps section ${replacingId}${wait}`);
  }
  // A place in its line is no longer needed.
  if (store.waitlist.remove(userId, sectionId)) store.events.record(userId, sectionId, 'left_waitlist', actorId);
  store.enrollments.enroll(userId, sectionId);
  store.events.record(userId, sectionId, 'enrolled', actorId);
  const promoted = promoteFromWaitlist(store, replacingId);
  // The old section's hours and credits may have kept this student out of a
  // seat they wait for, perhaps in another section of the new course, which
  // then replaces the new seat at once (a wait to change sections).
  promoteWaitlistsOf(store, [userId]);
  // One seat per course: any other seat in it is where such a move took them.
  const movedTo = store.enrollments.otherSeatInCourse(userId, section.course_id, sectionId) ?? 0;
  return { ...enrolled(userId, sectionId), replaced_section_id: replacingId, promoted_user_ids: promoted, moved_to_section_id: movedTo };
});

function enrolled(userId: number, sectionId: number): CreateEnrollmentResponse__Output {
  return { user_id: userId, section_id: sectionId, status: 'enrolled', position: 0, replaced_section_id: 0, promoted_user_ids: [], moved_to_section_id: 0 };
}

/** The user is a student, the section exists, the period is open (if it applies), and they are not enrolled in it. */
function requireEnrollable(store: EnrollStore, userId: number, sectionId: number, periodAt: string | null): SectionRow {
  requireStudent(store, userId);
  const section = requireSection(store, sectionId);
  requirePeriodOpen(store, periodAt);
  // periodAt is set exactly when the student acts for themself (periodCheckTime):
  // a hold binds them as the registration period does, not the registrar.
  if (periodAt !== null) requireNoHold(store, userId);
  if (store.enrollments.getEnrollment(userId, sectionId)?.status === 'enrolled') {
    throw alreadyExists(`user ${userId} is already enrolled in section ${sectionId}`);
  }
  return section;
}

/**
 * What a seat and a place in line both ask. No one waits for a seat they
 * could not take now; a promotion checks the schedule, the load and (unless
 * the registrar waived them) the prerequisites again. `held`, the student's
 * section of the same course, would be given up: its credits are not added
 * to the load.
 */
function requireAdmissible(store: EnrollStore, userId: number, section: SectionRow, waivePrerequisites: boolean, held?: number): void {
  if (section.frozen === 1) throw failedPrecondition(`section ${section.id} is frozen`);
  if (!waivePrerequisites) requirePrerequisitesPassed(store, userId, section.course_id);
  const conflict = store.sections.findConflict(userId, section.id);
  if (conflict !== undefined) throw failedPrecondition(`schedule conflict with section ${conflict}`);
  if (held === undefined) requireLoadFits(store, userId, section);
}

/**
 * Drops an active enrollment and, unless the section is frozen, promotes from
 * the waitlist into the freed seat, all in the caller's transaction. The
 * response names those promotions; the student who dropped may also be
 * promoted where they wait, now that this section no longer clashes.
 */
function dropEnrollment(
  store: EnrollStore,
  userId: number,
  sectionId: number,
  actorId: number,
  authorize: (section: SectionRow) => void,
): DropResponse__Output {
  const section = requireSection(store, sectionId);
  authorize(section);
  requireDropped(store, userId, sectionId, actorId);
  const promoted = promoteFromWaitlist(store, sectionId);
  // The dropped seat may have been what kept this student out of a section they wait for.
  promoteWaitlistsOf(store, [userId]);
  return { user_id: userId, section_id: sectionId, promoted_user_ids: promoted };
}

/** Drops the student's active, ungraded enrollment in the section (`actorId` asking), or says why there is none to drop. */
function requireDropped(store: EnrollStore, userId: number, sectionId: number, actorId: number): void {
  if (store.enrollments.drop(userId, sectionId)) {
    store.events.record(userId, sectionId, 'dropped', actorId);
    return;
  }
  const enrollment = store.enrollments.getEnrollment(userId, sectionId);
  if (enrollment?.status === 'enrolled' && enrollment.grade !== null) {
    throw failedPrecondition(`user ${userId} has a grade in section ${sectionId}; clear it before dropping`);
  }
  // A dropped enrollment is history, not something to drop again.
  throw notFound(`enrollment of user ${userId} in section ${sectionId}`);
}

/** The student themself or the registrar. */
export async function dropUserEnrollment(
  ctx: DomainContext,
  actor: Actor,
  req: DropUserEnrollmentRequest,
): Promise<DropResponse__Output> {
  const userId = requireId('user_id', req.user_id);
  const sectionId = requireId('section_id', req.section_id);
  requireSelfOrRegistrar(actor, userId);
  return ctx.write(dropOwnEnrollment, { userId, sectionId, periodAt: periodCheckTime(ctx, actor), actorId: actor.userId });
}

const dropOwnEnrollment = enrollWrite(
  'dropUserEnrollment',
  (store, { userId, sectionId, periodAt, actorId }: { userId: number; sectionId: number; periodAt: string | null; actorId: number }) =>
    dropEnrollment(store, userId, sectionId, actorId, () => requirePeriodOpen(store, periodAt)),
);

/** The section's instructor or the registrar. */
export async function dropSectionEnrollment(
  ctx: DomainContext,
  actor: Actor,
  req: DropSectionEnrollmentRequest,
): Promise<DropResponse__Output> {
  const sectionId = requireId('section_id', req.section_id);
  const userId = requireId('user_id', req.user_id);
  couldBeSectionStaff(actor);
  return ctx.write(dropStudentEnrollment, { actor, userId, sectionId });
}

const dropStudentEnrollment = enrollWrite(
  'dropSectionEnrollment',
  (store, { actor, userId, sectionId }: { actor: Actor; userId: number; sectionId: number }) =>
    dropEnrollment(store, userId, sectionId, actor.userId, (section) => requireSectionStaff(actor, section.instructor_id)),
);

/**
 * The section's instructor or the registrar: sets or clears the grade of a
 * student enrolled in the section. Frozen sections are graded too (a freeze
 * stops enrollment, not teaching).
 */
export async function setEnrollmentGrade(
  ctx: DomainContext,
  actor: Actor,
  req: SetEnrollmentGradeRequest,
): Promise<Enrollment__Output> {
  const sectionId = requireId('section_id', req.section_id);
  const userId = requireId('user_id', req.user_id);
  const grade = gradeValue('grade', req.grade);
  couldBeSectionStaff(actor);
  return ctx.write(gradeEnrollment, { actor, userId, sectionId, grade });
}

const gradeEnrollment = enrollWrite(
  'setEnrollmentGrade',
  (store, { actor, userId, sectionId, grade }: { actor: Actor; userId: number; sectionId: number; grade: string | null }) => {
    const section = requireSection(store, sectionId);
    requireSectionStaff(actor, section.instructor_id);
    const enrollment = store.enrollments.getEnrollment(userId, sectionId);
    if (!enrollment) throw notFound(`enrollment of user ${userId} in section ${sectionId}`);
    if (enrollment.status !== 'enrolled') {
      throw failedPrecondition(`user ${userId} dropped section ${sectionId}; only an enrolled student is graded`);
    }
    // Clearing a grade makes the section current again: like an enrollment,
    // it must fit the student's courses, hours and load as they are now.
    if (grade === null && enrollment.grade !== null) {
      const seat = store.enrollments.otherSeatInCourse(userId, section.course_id, sectionId);
      if (seat !== undefined) {
        throw failedPrecondition(`user ${userId} takes ${section.course_code} again in section ${seat}: the grade in section ${sectionId} stays`);
      }
      const conflict = store.sections.findConflict(userId, sectionId);
      if (conflict !== undefined) {
        throw failedPrecondition(`user ${userId} is enrolled in section ${conflict}, which meets with section ${sectionId}: its grade stays`);
      }
      requireLoadFits(store, userId, section);
    }
    store.enrollments.setGrade(userId, sectionId, grade);
    if (grade !== enrollment.grade) {
      store.events.record(userId, sectionId, grade === null ? 'grade_cleared' : 'graded', actor.userId, grade);
    }
    if (grade !== null && enrollment.grade === null) {
      // The course is taken: a wait to change to another of its sections
      // ends with it (the service leaves the line for the student).
      for (const waited of store.waitlist.userWaitlistSectionsOfCourse(userId, section.course_id)) {
        store.waitlist.remove(userId, waited);
        store.events.record(userId, waited, 'left_waitlist', null);
      }
    }
    // A grade ends the course's share of the student's load, which may have
    // kept them out of a free seat they wait for.
    if (grade !== null) promoteWaitlistsOf(store, [userId]);
    return toEnrollment(store.enrollments.getEnrollment(userId, sectionId)!);
  },
);

/** The section's instructor or the registrar; ordered by user id. */
export async function listSectionEnrollments(
  ctx: DomainContext,
  actor: Actor,
  req: ListSectionEnrollmentsRequest,
): Promise<ListEnrollmentsResponse__Output> {
  const sectionId = requireId('section_id', req.section_id);
  const status = statusFilter(req.status);
  const cursor = readPage('section-enrollments', 1, req);
  couldBeSectionStaff(actor);
  const rows = await ctx.query(readSectionEnrollments, { actor, sectionId, status, afterId: cursor.afterId, limit: cursor.limit });
  const page = toPage(cursor, rows, (r) => [r.user_id]);
  return { enrollments: page.rows.map(toEnrollment), next_page_token: page.next_page_token };
}

/** What listing a section's or a user's enrollments reads with. */
interface EnrollmentsQuery {
  actor: Actor;
  status: ReturnType<typeof statusFilter>;
  afterId: number;
  limit: number;
}

const readSectionEnrollments = enrollRead('listSectionEnrollments', (store, q: EnrollmentsQuery & { sectionId: number }) => {
  requireSectionForStaff(q.actor, store, q.sectionId);
  return store.enrollments.listSectionEnrollments(q.sectionId, q.status, q.afterId, q.limit);
});

/** The user themself or the registrar; ordered by section id. */
export async function listUserEnrollments(
  ctx: DomainContext,
  actor: Actor,
  req: ListUserEnrollmentsRequest,
): Promise<ListEnrollmentsResponse__Output> {
  const userId = requireId('user_id', req.user_id);
  const status = statusFilter(req.status);
  const cursor = readPage('user-enrollments', 1, req);
  requireSelfOrRegistrar(actor, userId);
  const rows = await ctx.query(readUserEnrollments, { actor, userId, status, afterId: cursor.afterId, limit: cursor.limit });
  const page = toPage(cursor, rows, (r) => [r.section_id]);
  return { enrollments: page.rows.map(toEnrollment), next_page_token: page.next_page_token };
}

const readUserEnrollments = enrollRead('listUserEnrollments', (store, q: EnrollmentsQuery & { userId: number }) => {
  requireListedUser(q.actor, store, q.userId);
  return store.enrollments.listUserEnrollments(q.userId, q.status, q.afterId, q.limit);
});


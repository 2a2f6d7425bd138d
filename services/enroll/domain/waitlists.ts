/** Waitlist listings and leaving a waitlist. Positions are always 1..n. */
import { notFound, permissionDenied } from '../../../lib/errors.js';
import type { DropResponse__Output } from '../../../gen/ts/enroll/v1/DropResponse.js';
import type { DropUserWaitlistRequest } from '../../../gen/ts/enroll/v1/DropUserWaitlistRequest.js';
import type { ListCourseWaitlistRequest } from '../../../gen/ts/enroll/v1/ListCourseWaitlistRequest.js';
import type { ListSectionWaitlistRequest } from '../../../gen/ts/enroll/v1/ListSectionWaitlistRequest.js';
import type { ListUserWaitlistRequest } from '../../../gen/ts/enroll/v1/ListUserWaitlistRequest.js';
import type { ListWaitlistResponse__Output } from '../../../gen/ts/enroll/v1/ListWaitlistResponse.js';
import {
  couldBeSectionStaff,
  hasRole,
  INSTRUCTOR,
  isRegistrar,
  requireSelfOrRegistrar,
  type Actor,
} from './actor.js';
import type { DomainContext } from './context.js';
import { enrollRead, enrollWrite } from './operations.js';
import { toWaitlistEntry } from './convert.js';
import { requireCourse, requireListedUser, requireSection, requireSectionForStaff } from './lookups.js';
import { readPage, toPage } from '../../../lib/pagination.js';
import { requireId } from './validate.js';

/**
 * Every section's waitlist for a course, ordered by section then position:
 * the registrar sees all, an instructor only the sections they teach.
 */
export async function listCourseWaitlist(
  ctx: DomainContext,
  actor: Actor,
  req: ListCourseWaitlistRequest,
): Promise<ListWaitlistResponse__Output> {
  const courseId = requireId('course_id', req.course_id);
  const cursor = readPage('course-waitlist', 2, req);
  const registrar = isRegistrar(actor);
  if (!registrar && !hasRole(actor, INSTRUCTOR)) throw permissionDenied('only instructors and the registrar');
  const [sectionId = 0, position = 0] = cursor.after;
  const rows = await ctx.query(readCourseWaitlist, {
    courseId,
    instructorId: registrar ? null : actor.userId,
    after: { sectionId, position },
    limit: cursor.limit,
  });
  const page = toPage(cursor, rows, (r) => [r.section_id, r.position]);
  return { entries: page.rows.map(toWaitlistEntry), next_page_token: page.next_page_token };
}

/**
 * The section's instructor or the registrar; ordered by position. Tokens are
 * keyed by position, so a page fetched after someone ahead left may skip one.
 */
export async function listSectionWaitlist(
  ctx: DomainContext,
  actor: Actor,
  req: ListSectionWaitlistRequest,
): Promise<ListWaitlistResponse__Output> {
  const sectionId = requireId('section_id', req.section_id);
  const cursor = readPage('section-waitlist', 1, req);
  couldBeSectionStaff(actor);
  const rows = await ctx.query(readSectionWaitlist, { actor, sectionId, afterId: cursor.afterId, limit: cursor.limit });
  const page = toPage(cursor, rows, (r) => [r.position]);
  return { entries: page.rows.map(toWaitlistEntry), next_page_token: page.next_page_token };
}

/** The user themself or the registrar; ordered by section id. */
export async function listUserWaitlist(
  ctx: DomainContext,
  actor: Actor,
  req: ListUserWaitlistRequest,
): Promise<ListWaitlistResponse__Output> {
  const userId = requireId('user_id', req.user_id);
  const cursor = readPage('user-waitlist', 1, req);
  requireSelfOrRegistrar(actor, userId);
  const rows = await ctx.query(readUserWaitlist, { actor, userId, afterId: cursor.afterId, limit: cursor.limit });
  const page = toPage(cursor, rows, (r) => [r.section_id]);
  return { entries: page.rows.map(toWaitlistEntry), next_page_token: page.next_page_token };
}

const readCourseWaitlist = enrollRead(
  'listCourseWaitlist',
  (store, q: { courseId: number; instructorId: number | null; after: { sectionId: number; position: number }; limit: number }) => {
    requireCourse(store, q.courseId);
    return store.waitlist.listCourseWaitlist(q.courseId, q.instructorId, q.after, q.limit);
  },
);

const readSectionWaitlist = enrollRead('listSectionWaitlist', (store, q: { actor: Actor; sectionId: number; afterId: number; limit: number }) => {
  requireSectionForStaff(q.actor, store, q.sectionId);
  return store.waitlist.listSectionWaitlist(q.sectionId, q.afterId, q.limit);
});

const readUserWaitlist = enrollRead('listUserWaitlist', (store, q: { actor: Actor; userId: number; afterId: number; limit: number }) => {
  requireListedUser(q.actor, store, q.userId);
  return store.waitlist.listUserWaitlist(q.userId, q.afterId, q.limit);
});

/** The user themself or the registrar. Positions behind close up. */
export async function dropUserWaitlist(
  ctx: DomainContext,
  actor: Actor,
  req: DropUserWaitlistRequest,
): Promise<DropResponse__Output> {
  const userId = requireId('user_id', req.user_id);
  const sectionId = requireId('section_id', req.section_id);
  requireSelfOrRegistrar(actor, userId);
  return ctx.write(leaveWaitlist, { userId, sectionId, actorId: actor.userId });
}

const leaveWaitlist = enrollWrite(
  'dropUserWaitlist',
  (store, { userId, sectionId, actorId }: { userId: number; sectionId: number; actorId: number }): DropResponse__Output => {
    requireSection(store, sectionId);
    if (!store.waitlist.remove(userId, sectionId)) {
      throw notFound(`waitlist entry of user ${userId} in section ${sectionId}`);
    }
    store.events.record(userId, sectionId, 'left_waitlist', actorId);
    // Leaving a waitlist frees no seat: nobody is promoted.
    return { user_id: userId, section_id: sectionId, promoted_user_ids: [] };
  },
);

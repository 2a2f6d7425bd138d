/**
 * The enrollment events: every change to a student's place in a section
 * (enrolled, waitlisted, promoted, dropped, left a waitlist, graded, grade
 * cleared), who asked for it and when, appended in the same transaction as the
 * change. Read newest first, by the student or the registrar for a student,
 * and by the section's instructor or the registrar for a section.
 */
import type { EnrollmentEvent__Output } from '../../../gen/ts/enroll/v1/EnrollmentEvent.js';
import type { ListEnrollmentEventsResponse__Output } from '../../../gen/ts/enroll/v1/ListEnrollmentEventsResponse.js';
import type { ListSectionEnrollmentEventsRequest } from '../../../gen/ts/enroll/v1/ListSectionEnrollmentEventsRequest.js';
import type { ListUserEnrollmentEventsRequest } from '../../../gen/ts/enroll/v1/ListUserEnrollmentEventsRequest.js';
import { readPage, toPage, type PageCursor } from '../../../lib/pagination.js';
import type { EnrollmentEventRow } from '../store/rows.js';
import { couldBeSectionStaff, requireSelfOrRegistrar, type Actor } from './actor.js';
import type { DomainContext } from './context.js';
import { requireListedUser, requireSectionForStaff } from './lookups.js';
import { enrollRead } from './operations.js';
import { requireId } from './validate.js';

/** The first page has no bound; later pages continue below the last id shown. */
const below = (cursor: PageCursor): number => (cursor.afterId === 0 ? Number.MAX_SAFE_INTEGER : cursor.afterId);

function toEvent(r: EnrollmentEventRow): EnrollmentEvent__Output {
  return { id: r.id, user_id: r.user_id, section_id: r.section_id, action: r.action, grade: r.grade ?? '', actor_id: r.actor_id ?? 0, at: r.at };
}

function toResponse(cursor: PageCursor, rows: EnrollmentEventRow[]): ListEnrollmentEventsResponse__Output {
  const page = toPage(cursor, rows, (r) => [r.id]);
  return { events: page.rows.map(toEvent), next_page_token: page.next_page_token };
}

interface EventsQuery {
  actor: Actor;
  id: number;
  beforeId: number;
  limit: number;
}

/** The user themself or the registrar. */
export async function listUserEnrollmentEvents(
  ctx: DomainContext,
  actor: Actor,
  req: ListUserEnrollmentEventsRequest,
): Promise<ListEnrollmentEventsResponse__Output> {
  const userId = requireId('user_id', req.user_id);
  const cursor = readPage('user-events', 1, req);
  requireSelfOrRegistrar(actor, userId);
  return toResponse(cursor, await ctx.query(readUserEvents, { actor, id: userId, beforeId: below(cursor), limit: cursor.limit }));
}

const readUserEvents = enrollRead('listUserEnrollmentEvents', (store, q: EventsQuery) => {
  requireListedUser(q.actor, store, q.id);
  return store.events.listUserEvents(q.id, q.beforeId, q.limit);
});

/** The section's instructor or the registrar (a deleted section's are read through its students'). */
export async function listSectionEnrollmentEvents(
  ctx: DomainContext,
  actor: Actor,
  req: ListSectionEnrollmentEventsRequest,
): Promise<ListEnrollmentEventsResponse__Output> {
  const sectionId = requireId('section_id', req.section_id);
  const cursor = readPage('section-events', 1, req);
  couldBeSectionStaff(actor);
  return toResponse(cursor, await ctx.query(readSectionEvents, { actor, id: sectionId, beforeId: below(cursor), limit: cursor.limit }));
}

const readSectionEvents = enrollRead('listSectionEnrollmentEvents', (store, q: EventsQuery) => {
  requireSectionForStaff(q.actor, store, q.id);
  return store.events.listSectionEvents(q.id, q.beforeId, q.limit);
});

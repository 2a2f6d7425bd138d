/** Sections: anyone reads, the registrar creates, edits and deletes. */
import { failedPrecondition, invalidArgument, notFound } from '../../../lib/errors.js';
import type { CreateSectionRequest } from '../../../gen/ts/enroll/v1/CreateSectionRequest.js';
import type { DeleteSectionRequest } from '../../../gen/ts/enroll/v1/DeleteSectionRequest.js';
import type { GetSectionRequest } from '../../../gen/ts/enroll/v1/GetSectionRequest.js';
import type { ListSectionsRequest } from '../../../gen/ts/enroll/v1/ListSectionsRequest.js';
import type { ListSectionsResponse__Output } from '../../../gen/ts/enroll/v1/ListSectionsResponse.js';
import type { Section__Output } from '../../../gen/ts/enroll/v1/Section.js';
import type { UpdateSectionRequest } from '../../../gen/ts/enroll/v1/UpdateSectionRequest.js';
import type { MeetingTime, NewSection, SectionFilter } from '../store/rows.js';
import type { EnrollStore } from '../store/store.js';
import { INSTRUCTOR, requireRegistrar, type Actor } from './actor.js';
import type { DomainContext } from './context.js';
import { enrollRead, enrollWrite } from './operations.js';
import { parseRoles, toSection } from './convert.js';
import { requireCourse, requireSection } from './lookups.js';
import { readPage, toPage, type PageCursor } from '../../../lib/pagination.js';
import { promoteFromWaitlist, promoteWaitlistsOf } from './promotion.js';
import {
  availabilityFilter,
  DEFAULT_WAITLIST_CAPACITY,
  LIMITS,
  optionalId,
  present,
  requireDay,
  requireId,
  requireIntIn,
  requireText,
  requireTime,
  sectionView,
  type SectionView,
} from './validate.js';

export async function listSections(
  ctx: DomainContext,
  _actor: Actor,
  req: ListSectionsRequest,
): Promise<ListSectionsResponse__Output> {
  const filter: SectionFilter = {
    courseId: optionalId('course_id', req.course_id),
    departmentId: optionalId('department_id', req.department_id),
    instructorId: optionalId('instructor_id', req.instructor_id),
    day: req.day ? requireDay('day', req.day) : null,
    availability: availabilityFilter(req.availability),
  };
  const view = sectionView(req.view, 'basic');
  return ctx.memoQuery(readSections, { filter, view, cursor: readPage('section', 1, req) });
}

const readSections = enrollRead(
  'listSections',
  (
    store,
    { filter, view, cursor }: { filter: SectionFilter; view: SectionView; cursor: PageCursor },
  ): ListSectionsResponse__Output => {
    const page = toPage(cursor, store.sections.listSections(filter, cursor.afterId, cursor.limit), (r) => [r.id]);
    return { sections: page.rows.map((r) => toSection(r, view)), next_page_token: page.next_page_token };
  },
);

export async function getSection(ctx: DomainContext, _actor: Actor, req: GetSectionRequest): Promise<Section__Output> {
  const sectionId = requireId('section_id', req.section_id);
  return ctx.query(readSection, { sectionId, view: sectionView(req.view, 'full') });
}

const readSection = enrollRead('getSection', (store, a: { sectionId: number; view: SectionView }) =>
  toSection(requireSection(store, a.sectionId), a.view),
);

/**
 * The instructor_id of a section must name a known user (else NOT_FOUND, as an unknown
 * course_id or department_id in a body is) with the instructor role (else
 * FAILED_PRECONDITION, as enrolling a user who is not a student is).
 */
function requireInstructor(store: EnrollStore, id: number): void {
  const user = store.users.getUser(id);
  if (!user) throw notFound(`instructor_id: user ${id}`);
  if (!parseRoles(user.roles).includes(INSTRUCTOR)) throw failedPrecondition(`instructor_id: user ${id} is not an instructor`);
}

export async function createSection(ctx: DomainContext, actor: Actor, req: CreateSectionRequest): Promise<Section__Output> {
  requireRegistrar(actor);
  const courseId = requireId('course_id', req.course_id);
  const classroom = requireText('classroom', req.classroom, LIMITS.classroom);
  const capacity = requireIntIn('capacity', req.capacity, LIMITS.capacity);
  const waitlistCapacity =
    req.waitlist_capacity === undefined || req.waitlist_capacity === null
      ? DEFAULT_WAITLIST_CAPACITY
      : requireIntIn('waitlist_capacity', req.waitlist_capacity, LIMITS.waitlistCapacity);
  const day = requireDay('day', req.day);
  const beginTime = requireTime('begin_time', req.begin_time);
  const endTime = requireTime('end_time', req.end_time);
  if (beginTime >= endTime) throw invalidArgument('end_time', 'must be after begin_time');
  const instructorId = requireId('instructor_id', req.instructor_id);

  await ctx.ensureUsersKnown(instructorId);
  // A user just made an instructor may not be one in our copy yet (it follows every 2 s).
  await ctx.syncUserChanges();
  return ctx.write(insertSection, {
    course_id: courseId,
    classroom,
    capacity,
    waitlist_capacity: waitlistCapacity,
    day,
    begin_time: beginTime,
    end_time: endTime,
    instructor_id: instructorId,
  });
}

/** FAILED_PRECONDITION when another live section uses the classroom at that time. */
function requireRoomFree(store: EnrollStore, classroom: string, time: MeetingTime, exceptId = 0): void {
  const taken = store.sections.findRoomClash(classroom, time, exceptId);
  if (taken !== undefined) throw failedPrecondition(`classroom ${classroom} is taken by section ${taken} at that time`);
}

/** FAILED_PRECONDITION when the instructor teaches another live section at that time. */
function requireInstructorFree(store: EnrollStore, instructorId: number, time: MeetingTime, exceptId = 0): void {
  const busy = store.sections.findInstructorClash(instructorId, time, exceptId);
  if (busy !== undefined) throw failedPrecondition(`instructor ${instructorId} teaches section ${busy} at that time`);
}

const insertSection = enrollWrite('createSection', (store, section: NewSection) => {
  requireCourse(store, section.course_id);
  requireInstructor(store, section.instructor_id);
  requireRoomFree(store, section.classroom, section);
  requireInstructorFree(store, section.instructor_id, section);
  return toSection(store.sections.getSection(store.sections.insertSection(section))!);
});

/**
 * Changes only the fields present. Raising the capacity or unfreezing fills
 * free seats from the waitlist in the same transaction. A new meeting time
 * must leave every enrolled student without a clash; the old one no longer
 * holds its students' hours, so the waitlists they are on are walked again.
 */
export async function updateSection(ctx: DomainContext, actor: Actor, req: UpdateSectionRequest): Promise<Section__Output> {
  requireRegistrar(actor);
  const sectionId = requireId('section_id', req.section_id);
  const instructorId = present(req.instructor_id) ? requireId('instructor_id', req.instructor_id) : undefined;
  const capacity = present(req.capacity) ? requireIntIn('capacity', req.capacity, LIMITS.capacity) : undefined;
  const waitlistCapacity = present(req.waitlist_capacity)
    ? requireIntIn('waitlist_capacity', req.waitlist_capacity, LIMITS.waitlistCapacity)
    : undefined;
  const classroom = present(req.classroom) ? requireText('classroom', req.classroom, LIMITS.classroom) : undefined;
  const frozen = present(req.frozen) ? req.frozen : undefined;
  const day = present(req.day) ? requireDay('day', req.day) : undefined;
  const beginTime = present(req.begin_time) ? requireTime('begin_time', req.begin_time) : undefined;
  const endTime = present(req.end_time) ? requireTime('end_time', req.end_time) : undefined;

  if (instructorId !== undefined) {
    await ctx.ensureUsersKnown(instructorId);
    await ctx.syncUserChanges();
  }
  return ctx.write(changeSection, { sectionId, instructorId, capacity, waitlistCapacity, classroom, frozen, day, beginTime, endTime });
}

interface SectionChange {
  sectionId: number;
  instructorId?: number;
  capacity?: number;
  waitlistCapacity?: number;
  classroom?: string;
  frozen?: boolean;
  day?: string;
  beginTime?: string;
  endTime?: string;
}

const changeSection = enrollWrite('updateSection', (store, c: SectionChange) => {
  const section = requireSection(store, c.sectionId);
  if (c.instructorId !== undefined) requireInstructor(store, c.instructorId);
  if (c.capacity !== undefined && c.capacity < section.enrolled_count) {
    throw failedPrecondition(`capacity ${c.capacity} is below the ${section.enrolled_count} students enrolled`);
  }
  if (c.waitlistCapacity !== undefined && c.waitlistCapacity < section.waitlist_count) {
    throw failedPrecondition(`waitlist_capacity ${c.waitlistCapacity} is below the ${section.waitlist_count} students waitlisted`);
  }
  const time = { day: c.day ?? section.day, begin_time: c.beginTime ?? section.begin_time, end_time: c.endTime ?? section.end_time };
  if (time.begin_time >= time.end_time) throw invalidArgument('end_time', 'must be after begin_time');
  const moved = time.day !== section.day || time.begin_time !== section.begin_time || time.end_time !== section.end_time;
  const classroom = c.classroom ?? section.classroom;
  if (moved || classroom !== section.classroom) requireRoomFree(store, classroom, time, c.sectionId);
  const instructorId = c.instructorId ?? section.instructor_id;
  if (moved || instructorId !== section.instructor_id) requireInstructorFree(store, instructorId, time, c.sectionId);
  if (moved) {
    const clash = store.sections.findRosterClash(c.sectionId, time);
    if (clash) {
      throw failedPrecondition(`user ${clash.user_id} is enrolled in section ${clash.section_id}, which meets then: the section keeps its time`);
    }
  }
  store.sections.updateSection(c.sectionId, {
    instructor_id: instructorId,
    capacity: c.capacity ?? section.capacity,
    waitlist_capacity: c.waitlistCapacity ?? section.waitlist_capacity,
    classroom,
    frozen: c.frozen === undefined ? section.frozen : c.frozen ? 1 : 0,
    ...time,
  });
  // Whatever changed, seats that are free and unfrozen are offered now.
  promoteFromWaitlist(store, c.sectionId);
  // Its students' old hours are free: where they wait, they may fit now.
  if (moved) promoteWaitlistsOf(store, store.sections.ungradedStudents(c.sectionId));
  return toSection(store.sections.getSection(c.sectionId)!);
});

/**
 * Keeps the section as deleted, drops its students and clears its waitlist.
 * Its students may then be promoted where they wait (promoteWaitlistsOf).
 */
export async function deleteSection(ctx: DomainContext, actor: Actor, req: DeleteSectionRequest): Promise<Section__Output> {
  requireRegistrar(actor);
  const sectionId = requireId('section_id', req.section_id);
  return ctx.write(markSectionDeleted, { sectionId, actorId: actor.userId });
}

const markSectionDeleted = enrollWrite('deleteSection', (store, { sectionId, actorId }: { sectionId: number; actorId: number }) => {
  requireSection(store, sectionId);
  const graded = store.enrollments.firstGraded(sectionId);
  if (graded !== undefined) {
    throw failedPrecondition(`section ${sectionId} has graded students (user ${graded}); clear their grades before deleting it`);
  }
  store.sections.markSectionDeleted(sectionId);
  const dropped = store.enrollments.dropAllInSection(sectionId);
  for (const userId of dropped) store.events.record(userId, sectionId, 'dropped', actorId);
  for (const userId of store.waitlist.clearSection(sectionId)) store.events.record(userId, sectionId, 'left_waitlist', actorId);
  // Its students are free at its hours now: the waitlists they are on may take them in.
  promoteWaitlistsOf(store, dropped);
  return toSection(store.sections.getSection(sectionId)!);
});

/**
 * The random walk's write side (invariants.test.ts): the database as the
 * checks see it after each step, and every enrollment rule it breaks.
 */
import type Database from 'better-sqlite3';
import { AppError, Status } from '../../../../lib/errors.js';
import type { Step } from './steps.js';
import { CLIENT_STATUSES, MAX_CREDITS, MAX_WAITLISTS, NOT_PASSING, STUDENT_IDS } from './world.js';

interface SectionState {
  id: number;
  course_id: number;
  credits: number;
  classroom: string;
  capacity: number;
  waitlist_capacity: number;
  day: string;
  begin_time: string;
  end_time: string;
  instructor_id: number;
  frozen: 0 | 1;
  deleted: 0 | 1;
  enrolled_count: number;
  waitlist_count: number;
}

interface EnrollmentState {
  user_id: number;
  section_id: number;
  status: 'enrolled' | 'dropped';
  grade: string | null;
}

interface WaitState {
  user_id: number;
  section_id: number;
  position: number;
  prerequisites_waived: 0 | 1;
}

interface HoldState {
  id: number;
  user_id: number;
  reason: string;
}

interface EventState {
  user_id: number;
  section_id: number;
  action: string;
  grade: string | null;
}

export interface State {
  courseIds: number[];
  sections: SectionState[];
  prerequisites: Array<{ course_id: number; prerequisite_id: number }>;
  enrollments: EnrollmentState[];
  /** By section, then position. */
  waitlist: WaitState[];
  /** The newest event of each (user, section). */
  newestEvents: EventState[];
  /** The registration holds not released, by id. */
  holds: HoldState[];
  /** The released holds, by id. */
  releasedHolds: Array<{ id: number; user_id: number }>;
  registrationOpen: boolean;
}

/** The connection's statement for `sql`, prepared once: the checks read the same few queries after every step. */
export function statement<P extends unknown[], R>(db: Database.Database, sql: string): Database.Statement<P, R> {
  let cache = statements.get(db);
  if (!cache) statements.set(db, (cache = new Map()));
  let stmt = cache.get(sql);
  if (!stmt) cache.set(sql, (stmt = db.prepare(sql)));
  return stmt as Database.Statement<P, R>;
}
const statements = new WeakMap<Database.Database, Map<string, Database.Statement>>();

export function readState(db: Database.Database): State {
  const all = <T>(sql: string) => statement<[], T>(db, sql).all();
  const period = statement<[], { opens_at: string | null; closes_at: string | null }>(db, 'SELECT opens_at, closes_at FROM registration_period').get()!;
  const now = new Date().toISOString();
  return {
    courseIds: all<{ id: number }>('SELECT id FROM courses ORDER BY id').map((c) => c.id),
    sections: all<SectionState>(
      `SELECT s.id, s.course_id, c.credits, s.classroom, s.capacity, s.waitlist_capacity, s.day, s.begin_time, s.end_time,
              s.instructor_id, s.frozen, s.deleted, s.enrolled_count, s.waitlist_count
       FROM sections s JOIN courses c ON c.id = s.course_id ORDER BY s.id`,
    ),
    prerequisites: all('SELECT course_id, prerequisite_id FROM course_prerequisites'),
    enrollments: all('SELECT user_id, section_id, status, grade FROM enrollments ORDER BY user_id, section_id'),
    waitlist: all('SELECT user_id, section_id, position, prerequisites_waived FROM waitlist ORDER BY section_id, position'),
    newestEvents: all(
      `SELECT user_id, section_id, action, grade FROM enrollment_events
       WHERE id IN (SELECT max(id) FROM enrollment_events GROUP BY user_id, section_id)`,
    ),
    holds: all('SELECT id, user_id, reason FROM registration_holds WHERE released_at IS NULL ORDER BY id'),
    releasedHolds: all('SELECT id, user_id FROM registration_holds WHERE released_at IS NOT NULL ORDER BY id'),
    registrationOpen: (period.opens_at === null || period.opens_at <= now) && (period.closes_at === null || now < period.closes_at),
  };
}

const overlap = (a: SectionState, b: SectionState): boolean => a.day === b.day && a.begin_time < b.end_time && b.begin_time < a.end_time;

const lineOf = (s: State, sectionId: number): WaitState[] => s.waitlist.filter((w) => w.section_id === sectionId);

const enrolledIn = (s: State, sectionId: number): EnrollmentState[] =>
  s.enrollments.filter((e) => e.section_id === sectionId && e.status === 'enrolled');

/** The sections the student takes now: enrolled, not yet graded, not deleted (they hold hours and credits). */
export function currentSections(s: State, userId: number): SectionState[] {
  return s.enrollments
    .filter((e) => e.user_id === userId && e.status === 'enrolled' && e.grade === null)
    .map((e) => s.sections.find((x) => x.id === e.section_id)!)
    .filter((x) => x.deleted === 0);
}

export const enrolledSections = (s: State, userId: number): number[] =>
  s.enrollments.filter((e) => e.user_id === userId && e.status === 'enrolled').map((e) => e.section_id);

/** Whether the student has an active registration hold. */
export const onHold = (s: State, userId: number): boolean => s.holds.some((h) => h.user_id === userId);

const loadOf = (sections: SectionState[]): number => sections.reduce((sum, x) => sum + x.credits, 0);

/** Whether the student has a grade other than F, NP or I in some section of the course. */
const passed = (s: State, userId: number, courseId: number): boolean =>
  s.enrollments.some(
    (e) =>
      e.user_id === userId &&
      e.status === 'enrolled' &&
      e.grade !== null &&
      !NOT_PASSING.includes(e.grade) &&
      s.sections.find((x) => x.id === e.section_id)!.course_id === courseId,
  );

/**
 * Why the student in line could not take a free seat of the section now: a
 * registration hold (holds.ts), or, per the README, a clash with a section of
 * another course they take, a prerequisite not passed (unless waived for this
 * place), or a load past the limit (unless the wait is to change sections,
 * whose seat pays for this one). Undefined when nothing stands in the way.
 */
function obstacle(s: State, entry: WaitState, section: SectionState): string | undefined {
  if (onHold(s, entry.user_id)) return 'has a registration hold';
  const taking = currentSections(s, entry.user_id);
  const clash = taking.find((x) => x.course_id !== section.course_id && overlap(x, section));
  if (clash) return `clashes with §${clash.id}`;
  if (entry.prerequisites_waived === 0) {
    const missing = s.prerequisites.find((p) => p.course_id === section.course_id && !passed(s, entry.user_id, p.prerequisite_id));
    if (missing) return `has not passed course ${missing.prerequisite_id}`;
  }
  const changing = taking.some((x) => x.course_id === section.course_id);
  if (!changing && loadOf(taking) + section.credits > MAX_CREDITS) return `carries ${loadOf(taking)} credits`;
  return undefined;
}

/** What the newest event of a place says it is, and what the tables say. */
function placeFromEvent(e: EventState | undefined): string {
  if (!e || e.action === 'dropped' || e.action === 'left_waitlist') return 'out';
  if (e.action === 'waitlisted') return 'waiting';
  if (e.action === 'graded') return `graded ${e.grade}`;
  return 'enrolled'; // enrolled, promoted, grade_cleared
}

export function placeInTables(s: State, userId: number, sectionId: number): string {
  if (s.waitlist.some((w) => w.user_id === userId && w.section_id === sectionId)) return 'waiting';
  const e = s.enrollments.find((x) => x.user_id === userId && x.section_id === sectionId);
  if (e?.status !== 'enrolled') return 'out';
  return e.grade === null ? 'enrolled' : `graded ${e.grade}`;
}

/** Every rule the state breaks, in words. */
export function violations(s: State): string[] {
  const found: string[] = [];
  const live = s.sections.filter((x) => x.deleted === 0);

  for (const section of s.sections) {
    const id = section.id;
    const seats = enrolledIn(s, id).length;
    const line = lineOf(s, id);
    if (section.enrolled_count !== seats) found.push(`§${id}: enrolled_count ${section.enrolled_count}, but ${seats} enrolled`);
    if (section.waitlist_count !== line.length) found.push(`§${id}: waitlist_count ${section.waitlist_count}, but ${line.length} waiting`);
    if (seats > section.capacity) found.push(`§${id}: ${seats} enrolled in ${section.capacity} seats`);
    if (line.length > section.waitlist_capacity) found.push(`§${id}: ${line.length} waiting in a line of ${section.waitlist_capacity}`);
    const positions = line.map((w) => w.position).join(',');
    const expected = line.map((_, i) => i + 1).join(',');
    if (positions !== expected) found.push(`§${id}: waitlist positions ${positions}, not ${expected}`);
    if (section.deleted === 1 && seats + line.length > 0) found.push(`§${id} is deleted, with ${seats} enrolled and ${line.length} waiting`);
  }

  for (const [i, a] of live.entries()) {
    for (const b of live.slice(i + 1)) {
      if (!overlap(a, b)) continue;
      if (a.classroom.toLowerCase() === b.classroom.toLowerCase()) found.push(`§${a.id} and §${b.id} meet in ${a.classroom} at once`);
      if (a.instructor_id === b.instructor_id) found.push(`instructor ${a.instructor_id} teaches §${a.id} and §${b.id} at once`);
    }
  }

  for (const e of s.enrollments) {
    if (e.status === 'dropped' && e.grade !== null) found.push(`s${e.user_id} dropped §${e.section_id} with grade ${e.grade}`);
  }

  for (const userId of STUDENT_IDS) {
    for (const w of s.waitlist.filter((x) => x.user_id === userId)) {
      if (enrolledIn(s, w.section_id).some((e) => e.user_id === userId)) found.push(`s${userId} is enrolled in §${w.section_id} and waits for it`);
    }
    const taking = currentSections(s, userId);
    for (const [i, a] of taking.entries()) {
      for (const b of taking.slice(i + 1)) {
        if (a.course_id === b.course_id) found.push(`s${userId} takes course ${a.course_id} in both §${a.id} and §${b.id}`);
        else if (overlap(a, b)) found.push(`s${userId} takes §${a.id} and §${b.id}, which clash`);
      }
    }
    if (loadOf(taking) > MAX_CREDITS) found.push(`s${userId} carries ${loadOf(taking)} credits`);
    const lines = s.waitlist.filter((w) => w.user_id === userId && live.some((x) => x.id === w.section_id)).length;
    if (lines > MAX_WAITLISTS) found.push(`s${userId} waits in ${lines} lines`);
  }

  for (const section of live.filter((x) => x.frozen === 0)) {
    const free = section.capacity - enrolledIn(s, section.id).length;
    if (free <= 0) continue;
    for (const entry of lineOf(s, section.id)) {
      if (obstacle(s, entry, section) === undefined) {
        found.push(`§${section.id} has ${free} free seat(s) while s${entry.user_id}, at ${entry.position} in its line, could take one`);
      }
    }
  }

  const places = new Set<string>();
  for (const p of [...s.newestEvents, ...s.enrollments, ...s.waitlist]) places.add(`${p.user_id}:${p.section_id}`);
  for (const place of places) {
    const [userId, sectionId] = place.split(':').map(Number) as [number, number];
    const byEvent = placeFromEvent(s.newestEvents.find((e) => e.user_id === userId && e.section_id === sectionId));
    const inTables = placeInTables(s, userId, sectionId);
    if (byEvent !== inTables) found.push(`s${userId} in §${sectionId}: the newest event says ${byEvent}, the tables ${inTables}`);
  }
  return found;
}

/**
 * What one step may not do, judged from the state before and after it: jump
 * a line (a line keeps its order; newcomers join at its end), let anyone into
 * a section frozen throughout, let a student add or drop a seat outside the
 * registration period, let a student on hold add a seat or a place in line
 * themself, move a student on hold throughout the step from a line into a
 * seat (the registrar may enroll them there, and a release ends the hold), or
 * succeed without doing what it was asked.
 */
export function stepViolations(before: State, after: State, step: Step, refused: boolean): string[] {
  const found: string[] = [];
  for (const section of after.sections) {
    const was = lineOf(before, section.id).map((w) => w.user_id);
    const is = lineOf(after, section.id).map((w) => w.user_id);
    const stayed = was.filter((u) => is.includes(u));
    const expected = [...stayed, ...is.filter((u) => !was.includes(u))];
    if (is.join() !== expected.join()) found.push(`§${section.id}: line ${was.join(',')} became ${is.join(',')}`);

    const frozenThroughout = section.frozen === 1 && before.sections.find((x) => x.id === section.id)?.frozen === 1;
    if (frozenThroughout) {
      const seated = enrolledIn(before, section.id).map((e) => e.user_id);
      const newlySeated = enrolledIn(after, section.id).map((e) => e.user_id).filter((u) => !seated.includes(u));
      const newInLine = is.filter((u) => !was.includes(u));
      if (newlySeated.length > 0) found.push(`§${section.id} is frozen, yet s${newlySeated.join(', s')} took a seat`);
      if (newInLine.length > 0) found.push(`§${section.id} is frozen, yet s${newInLine.join(', s')} joined its line`);
    }
  }
  if (step.studentAddsOrDrops && !before.registrationOpen && !refused) found.push('a student added or dropped a seat outside the registration period');
  const adds = step.adds;
  if (adds?.byStudent && onHold(before, adds.userId) && !refused) {
    found.push(`s${adds.userId} is on hold, yet took a seat or a place in line in §${adds.sectionId} themself`);
  }
  for (const { user_id, section_id } of before.waitlist) {
    if (!onHold(before, user_id) || !onHold(after, user_id) || placeInTables(after, user_id, section_id) !== 'enrolled') continue;
    const byRegistrar = adds !== undefined && !adds.byStudent && adds.userId === user_id && adds.sectionId === section_id;
    if (!byRegistrar) found.push(`s${user_id} is on hold, yet was moved from the line of §${section_id} into a seat`);
  }
  const shortfall = refused ? undefined : step.shortfall?.(after);
  if (shortfall) found.push(`the step succeeded, but ${shortfall}`);
  return found;
}

/** Why a refusal is not a clean one: not an AppError of a client status, or the database changed. */
export function refusalViolations(error: unknown, changed: boolean): string[] {
  const found: string[] = [];
  if (!(error instanceof AppError)) found.push(`refused with ${String(error)}, not an AppError`);
  else if (!CLIENT_STATUSES.includes(error.code)) found.push(`refused with status ${Status[error.code]}: ${error.message}`);
  if (changed) found.push('the refused step changed the database');
  return found;
}

/**
 * A seeded random walk through the enrollment rules. Each seed builds a small
 * world (four courses of 3, 6, 9 and 10 credits, two or three sections each
 * of one to three seats and a line of one to three places, meeting times that
 * overlap, classrooms and instructors shared) and takes a few hundred random
 * steps: students 10..29 (10..15 most) enroll, wait, swap, drop and leave
 * lines; the registrar does the same for them (waiving prerequisites at
 * times); instructors and the registrar grade and drop; the registrar resizes,
 * freezes, moves, creates and deletes sections, and changes prerequisites,
 * credits and the registration period.
 *
 * After every step the database itself is held to the README's
 * "Enrollment rules" (see `violations`): seats and lines within capacity and
 * their counters exact, positions 1..n in order of joining, one current seat
 * per course, no clashing seats, loads and lines per student within the
 * limits, no free seat in an open section while someone in its line could
 * take it, and the newest event of each place agreeing with it. A refused
 * step must be an AppError of a client status and change nothing.
 *
 * A failure names its seed and step. To replay seeds, printing every step:
 *   INVARIANT_SEEDS=3,7 node --test dist/services/enroll/domain/invariants.test.js
 * (INVARIANT_STEPS changes the number of steps per seed.)
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type Database from 'better-sqlite3';
import { AppError, Status } from '../../../lib/errors.js';
import type { Actor } from './actor.js';
import { INSTRUCTOR, OTHER_INSTRUCTOR, REGISTRAR, setup, student, type Fixture } from './fixture.js';

const SEEDS = process.env.INVARIANT_SEEDS?.split(',').map(Number) ?? [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
const STEPS = Number(process.env.INVARIANT_STEPS ?? 400);
const TRACE = process.env.INVARIANT_SEEDS !== undefined;

// The README's limits, written out here rather than imported, so that the
// product's constants are checked too.
const MAX_CREDITS = 18;
const MAX_WAITLISTS = 3;
const NOT_PASSING = ['F', 'NP', 'I'];

/** The statuses a refusal may have: the caller's mistake or the state's, never the service's. */
const CLIENT_STATUSES: readonly Status[] = [
  Status.INVALID_ARGUMENT,
  Status.FAILED_PRECONDITION,
  Status.NOT_FOUND,
  Status.ALREADY_EXISTS,
  Status.PERMISSION_DENIED,
  Status.OUT_OF_RANGE,
];

const STUDENT_IDS = Array.from({ length: 20 }, (_, i) => 10 + i);
/** Students 10..15 act most: they hold several seats and lines at once, so that clashes and full loads keep them waiting. */
const BUSY_STUDENT_IDS = STUDENT_IDS.slice(0, 6);
/** Two instructors besides the fixture's, added to the directory by `buildWorld`. */
const NEW_INSTRUCTOR_IDS = [30, 31];
/**
 * Meeting times. Each on Monday and Tuesday overlaps the one before it (the
 * ones two apart on Monday are back to back); Wednesday's and Thursday's
 * leave room for every section to find a classroom and an instructor.
 */
const SLOTS = [
  { day: 'Monday', begin_time: '09:00', end_time: '10:00' },
  { day: 'Monday', begin_time: '09:30', end_time: '10:30' },
  { day: 'Monday', begin_time: '10:00', end_time: '11:00' },
  { day: 'Monday', begin_time: '10:30', end_time: '11:30' },
  { day: 'Tuesday', begin_time: '09:00', end_time: '10:30' },
  { day: 'Tuesday', begin_time: '10:00', end_time: '11:00' },
  { day: 'Wednesday', begin_time: '09:00', end_time: '10:00' },
  { day: 'Thursday', begin_time: '14:00', end_time: '15:00' },
];
/** 'r2' is 'R2' in another case: the same classroom. */
const ROOMS = ['R1', 'R2', 'R3', 'R4', 'R5', 'r2'];
/** Passing and not (F, NP, I). */
const GRADES = ['A', 'B+', 'C-', 'P', 'F', 'NP', 'I'];
const CREDITS = [0, 2, 3, 5, 6, 9, 12];

/** mulberry32: floats in [0, 1), the same sequence for the same seed. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Dice {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  /** From `min` to `max`, both included. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  weighted<T>(choices: ReadonlyArray<readonly [T, number]>): T {
    let roll = this.next() * choices.reduce((sum, [, weight]) => sum + weight, 0);
    for (const [choice, weight] of choices) {
      roll -= weight;
      if (roll < 0) return choice;
    }
    return choices[choices.length - 1]![0];
  }
}

// --- the database as the checks see it ---------------------------------------

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

interface EventState {
  user_id: number;
  section_id: number;
  action: string;
  grade: string | null;
}

interface State {
  courseIds: number[];
  sections: SectionState[];
  prerequisites: Array<{ course_id: number; prerequisite_id: number }>;
  enrollments: EnrollmentState[];
  /** By section, then position. */
  waitlist: WaitState[];
  /** The newest event of each (user, section). */
  newestEvents: EventState[];
  registrationOpen: boolean;
}

function readState(db: Database.Database): State {
  const all = <T>(sql: string) => db.prepare<[], T>(sql).all();
  const period = db.prepare<[], { opens_at: string | null; closes_at: string | null }>('SELECT opens_at, closes_at FROM registration_period').get()!;
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
    registrationOpen: (period.opens_at === null || period.opens_at <= now) && (period.closes_at === null || now < period.closes_at),
  };
}

const overlap = (a: SectionState, b: SectionState): boolean => a.day === b.day && a.begin_time < b.end_time && b.begin_time < a.end_time;

const lineOf = (s: State, sectionId: number): WaitState[] => s.waitlist.filter((w) => w.section_id === sectionId);

const enrolledIn = (s: State, sectionId: number): EnrollmentState[] =>
  s.enrollments.filter((e) => e.section_id === sectionId && e.status === 'enrolled');

/** The sections the student takes now: enrolled, not yet graded, not deleted (they hold hours and credits). */
function currentSections(s: State, userId: number): SectionState[] {
  return s.enrollments
    .filter((e) => e.user_id === userId && e.status === 'enrolled' && e.grade === null)
    .map((e) => s.sections.find((x) => x.id === e.section_id)!)
    .filter((x) => x.deleted === 0);
}

const enrolledSections = (s: State, userId: number): number[] =>
  s.enrollments.filter((e) => e.user_id === userId && e.status === 'enrolled').map((e) => e.section_id);

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
 * Why the student in line could not take a free seat of the section now, per
 * the README: a clash with a section of another course they take, a
 * prerequisite not passed (unless waived for this place), or a load past the
 * limit (unless the wait is to change sections, whose seat pays for this one).
 * Undefined when nothing stands in the way.
 */
function obstacle(s: State, entry: WaitState, section: SectionState): string | undefined {
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

function placeInTables(s: State, userId: number, sectionId: number): string {
  if (s.waitlist.some((w) => w.user_id === userId && w.section_id === sectionId)) return 'waiting';
  const e = s.enrollments.find((x) => x.user_id === userId && x.section_id === sectionId);
  if (e?.status !== 'enrolled') return 'out';
  return e.grade === null ? 'enrolled' : `graded ${e.grade}`;
}

/** Every rule the state breaks, in words. */
function violations(s: State): string[] {
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
 * registration period, or succeed without doing what it was asked.
 */
function stepViolations(before: State, after: State, step: Step, refused: boolean): string[] {
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
  const shortfall = refused ? undefined : step.shortfall?.(after);
  if (shortfall) found.push(`the step succeeded, but ${shortfall}`);
  return found;
}

/** Why a refusal is not a clean one: not an AppError of a client status, or the database changed. */
function refusalViolations(error: unknown, changed: boolean): string[] {
  const found: string[] = [];
  if (!(error instanceof AppError)) found.push(`refused with ${String(error)}, not an AppError`);
  else if (!CLIENT_STATUSES.includes(error.code)) found.push(`refused with status ${Status[error.code]}: ${error.message}`);
  if (changed) found.push('the refused step changed the database');
  return found;
}

// --- steps ------------------------------------------------------------------

interface Step {
  /** What it does, for messages: "s12 enrolls in §5". */
  label: string;
  /** A student adding or dropping a seat themself, which only the registration period allows. */
  studentAddsOrDrops?: boolean;
  run: () => Promise<unknown>;
  /** When it succeeds: what it did not do that it should have, judged from the state after it. */
  shortfall?: (after: State) => string | undefined;
}

interface Walk {
  f: Fixture;
  dice: Dice;
  state: State;
  instructors: Actor[];
}

const instructorActor = (id: number): Actor => ({ userId: id, username: `i${id}`, roles: ['instructor'] });

const aStudent = (w: Walk): number => w.dice.pick(w.dice.chance(0.8) ? BUSY_STUDENT_IDS : STUDENT_IDS);

/** Mostly a live section; now and then a deleted or an unknown one. */
function aSection(w: Walk): number {
  const live = w.state.sections.filter((x) => x.deleted === 0);
  if (live.length > 0 && w.dice.chance(0.94)) return w.dice.pick(live).id;
  return w.dice.chance(0.5) && w.state.sections.length > 0 ? w.dice.pick(w.state.sections).id : 999;
}

/** Mostly an enrolled student's place (`ungraded`: mostly one without a grade); now and then any student and section. */
function aSeat(w: Walk, ungraded: boolean): { user_id: number; section_id: number } {
  const seats = w.state.enrollments.filter((e) => e.status === 'enrolled' && (!ungraded || e.grade === null || w.dice.chance(0.1)));
  if (seats.length > 0 && w.dice.chance(0.9)) return w.dice.pick(seats);
  return { user_id: aStudent(w), section_id: aSection(w) };
}

/** The registrar, the section's own instructor, or now and then the fixture's INSTRUCTOR (teaching the section or not). */
function staffFor(w: Walk, sectionId: number): Actor {
  const teacher = w.state.sections.find((x) => x.id === sectionId)?.instructor_id;
  const own = teacher === undefined ? REGISTRAR : instructorActor(teacher);
  return w.dice.weighted([
    [REGISTRAR, 2],
    [own, 2],
    [INSTRUCTOR, 1],
  ]);
}

/**
 * Mostly in a section the student has no seat in; often one of a course they
 * take, which is a wait to change sections when it is full.
 */
function enroll(w: Walk): Step {
  const userId = aStudent(w);
  const seated = enrolledSections(w.state, userId);
  const taking = currentSections(w.state, userId);
  const courseId = taking.length > 0 && w.dice.chance(0.4) ? w.dice.pick(taking).course_id : undefined;
  const open = w.state.sections.filter((x) => x.deleted === 0 && !seated.includes(x.id) && (courseId === undefined || x.course_id === courseId));
  const sectionId = open.length > 0 && w.dice.chance(0.9) ? w.dice.pick(open).id : aSection(w);
  if (w.dice.chance(0.2)) {
    const waive = w.dice.chance(0.5);
    return {
      label: `reg enrolls s${userId} in §${sectionId}${waive ? ', waiving prerequisites' : ''}`,
      run: () => w.f.domain.createEnrollment(REGISTRAR, { user_id: userId, section_id: sectionId, waive_prerequisites: waive }),
      shortfall: (after) => enrolledOrWaiting(after, userId, sectionId),
    };
  }
  return {
    label: `s${userId} enrolls in §${sectionId}`,
    studentAddsOrDrops: true,
    run: () => w.f.domain.createEnrollment(student(userId), { user_id: userId, section_id: sectionId }),
    shortfall: (after) => enrolledOrWaiting(after, userId, sectionId),
  };
}

function enrolledOrWaiting(after: State, userId: number, sectionId: number): string | undefined {
  const place = placeInTables(after, userId, sectionId);
  return place === 'enrolled' || place === 'waiting' ? undefined : `s${userId} is ${place} in §${sectionId}`;
}

/** Half the time for another section of the same course. */
function swap(w: Walk): Step {
  const seat = aSeat(w, true);
  const courseId = w.state.sections.find((x) => x.id === seat.section_id)?.course_id;
  const sameCourse = w.state.sections.filter((x) => x.course_id === courseId && x.id !== seat.section_id && x.deleted === 0);
  const sectionId = sameCourse.length > 0 && w.dice.chance(0.5) ? w.dice.pick(sameCourse).id : aSection(w);
  const byStudent = w.dice.chance(0.8);
  const req = { user_id: seat.user_id, section_id: sectionId, replacing_section_id: seat.section_id };
  return {
    label: `${byStudent ? `s${seat.user_id}` : `reg for s${seat.user_id}`} swaps §${seat.section_id} for §${sectionId}`,
    studentAddsOrDrops: byStudent,
    run: () => w.f.domain.createEnrollment(byStudent ? student(seat.user_id) : REGISTRAR, req),
    // The student may have moved on from the new section to another of its course that they wait for.
    shortfall: (after) => {
      const newCourseId = after.sections.find((x) => x.id === sectionId)!.course_id;
      if (placeInTables(after, seat.user_id, seat.section_id) !== 'out') return `s${seat.user_id} kept §${seat.section_id}`;
      if (placeInTables(after, seat.user_id, sectionId) === 'waiting') return `s${seat.user_id} still waits for §${sectionId}`;
      if (!currentSections(after, seat.user_id).some((x) => x.course_id === newCourseId)) return `s${seat.user_id} does not take course ${newCourseId}`;
      return undefined;
    },
  };
}

function drop(w: Walk): Step {
  const { user_id, section_id } = aSeat(w, true);
  const how = w.dice.pick(['self', 'registrar', 'staff'] as const);
  if (how === 'staff') {
    const actor = staffFor(w, section_id);
    return {
      label: `${actor.username} drops s${user_id} from §${section_id}`,
      run: () => w.f.domain.dropSectionEnrollment(actor, { section_id, user_id }),
      shortfall: (after) => out(after, user_id, section_id),
    };
  }
  const actor = how === 'self' ? student(user_id) : REGISTRAR;
  return {
    label: `${actor.username} drops §${section_id} for s${user_id}`,
    studentAddsOrDrops: how === 'self',
    run: () => w.f.domain.dropUserEnrollment(actor, { user_id, section_id }),
    shortfall: (after) => out(after, user_id, section_id),
  };
}

function out(after: State, userId: number, sectionId: number): string | undefined {
  const place = placeInTables(after, userId, sectionId);
  return place === 'out' ? undefined : `s${userId} is ${place} in §${sectionId}`;
}

function leaveWaitlist(w: Walk): Step {
  const entry =
    w.state.waitlist.length > 0 && w.dice.chance(0.9)
      ? w.dice.pick(w.state.waitlist)
      : { user_id: aStudent(w), section_id: aSection(w) };
  const actor = w.dice.chance(0.8) ? student(entry.user_id) : REGISTRAR;
  return {
    label: `${actor.username} takes s${entry.user_id} out of the line of §${entry.section_id}`,
    run: () => w.f.domain.dropUserWaitlist(actor, { user_id: entry.user_id, section_id: entry.section_id }),
    shortfall: (after) => out(after, entry.user_id, entry.section_id),
  };
}

/** A grade for an enrolled student, or now and then one cleared. */
function grade(w: Walk): Step {
  const graded = w.state.enrollments.filter((e) => e.status === 'enrolled' && e.grade !== null);
  const clearing = graded.length > 0 && w.dice.chance(0.3);
  const { user_id, section_id } = clearing ? w.dice.pick(graded) : aSeat(w, false);
  const value = clearing ? '' : w.dice.pick(GRADES);
  const actor = staffFor(w, section_id);
  return {
    label: `${actor.username} ${clearing ? 'clears the grade of' : `gives ${value} to`} s${user_id} in §${section_id}`,
    run: () => w.f.domain.setEnrollmentGrade(actor, { section_id, user_id, grade: value }),
    shortfall: (after) => {
      const place = placeInTables(after, user_id, section_id);
      const expected = clearing ? 'enrolled' : `graded ${value}`;
      return place === expected ? undefined : `s${user_id} is ${place} in §${section_id}, not ${expected}`;
    },
  };
}

function resize(w: Walk): Step {
  const sectionId = aSection(w);
  if (w.dice.chance(0.5)) {
    const capacity = w.dice.int(1, 4);
    return {
      label: `reg gives §${sectionId} ${capacity} seats`,
      run: () => w.f.domain.updateSection(REGISTRAR, { section_id: sectionId, capacity }),
      shortfall: (after) => (after.sections.find((x) => x.id === sectionId)!.capacity === capacity ? undefined : 'the capacity stayed'),
    };
  }
  const waitlistCapacity = w.dice.int(0, 3);
  return {
    label: `reg gives §${sectionId} a line of ${waitlistCapacity}`,
    run: () => w.f.domain.updateSection(REGISTRAR, { section_id: sectionId, waitlist_capacity: waitlistCapacity }),
    shortfall: (after) =>
      after.sections.find((x) => x.id === sectionId)!.waitlist_capacity === waitlistCapacity ? undefined : 'the waitlist capacity stayed',
  };
}

/** Mostly unfreezes a frozen section, when there is one: freezes are short. */
function freeze(w: Walk): Step {
  const frozenSections = w.state.sections.filter((x) => x.frozen === 1 && x.deleted === 0);
  const sectionId = frozenSections.length > 0 && w.dice.chance(0.8) ? w.dice.pick(frozenSections).id : aSection(w);
  const frozen = w.state.sections.find((x) => x.id === sectionId)?.frozen !== 1;
  return {
    label: `reg ${frozen ? 'freezes' : 'unfreezes'} §${sectionId}`,
    run: () => w.f.domain.updateSection(REGISTRAR, { section_id: sectionId, frozen }),
    shortfall: (after) => (after.sections.find((x) => x.id === sectionId)!.frozen === (frozen ? 1 : 0) ? undefined : 'the freeze did not change'),
  };
}

/** A new time, classroom or instructor for a section. */
function move(w: Walk): Step {
  const sectionId = aSection(w);
  const change = w.dice.pick(['time', 'time', 'classroom', 'instructor'] as const);
  if (change === 'time') {
    const slot = w.dice.pick(SLOTS);
    return {
      label: `reg moves §${sectionId} to ${slot.day} ${slot.begin_time}-${slot.end_time}`,
      run: () => w.f.domain.updateSection(REGISTRAR, { section_id: sectionId, ...slot }),
    };
  }
  if (change === 'classroom') {
    const classroom = w.dice.pick(ROOMS);
    return {
      label: `reg moves §${sectionId} to classroom ${classroom}`,
      run: () => w.f.domain.updateSection(REGISTRAR, { section_id: sectionId, classroom }),
    };
  }
  const instructor = w.dice.pick(w.instructors);
  return {
    label: `reg hands §${sectionId} to ${instructor.username}`,
    run: () => w.f.domain.updateSection(REGISTRAR, { section_id: sectionId, instructor_id: instructor.userId }),
  };
}

function sectionRequest(dice: Dice, instructors: Actor[], courseId: number) {
  return {
    course_id: courseId,
    classroom: dice.pick(ROOMS),
    capacity: dice.int(1, 3),
    waitlist_capacity: dice.int(1, 3),
    ...dice.pick(SLOTS),
    instructor_id: dice.pick(instructors).userId,
  };
}

function createSection(w: Walk): Step {
  const req = sectionRequest(w.dice, w.instructors, w.dice.pick(w.state.courseIds));
  return {
    label: `reg creates a section of course ${req.course_id}: ${JSON.stringify(req)}`,
    run: () => w.f.domain.createSection(REGISTRAR, req),
  };
}

function deleteSection(w: Walk): Step {
  const sectionId = aSection(w);
  return { label: `reg deletes §${sectionId}`, run: () => w.f.domain.deleteSection(REGISTRAR, { section_id: sectionId }) };
}

/** Mostly clears a course's prerequisites, when one has some: most of the time few courses require others. */
function setPrerequisites(w: Walk): Step {
  const requiring = [...new Set(w.state.prerequisites.map((p) => p.course_id))];
  const clearing = requiring.length > 0 && w.dice.chance(0.7);
  const courseId = clearing ? w.dice.pick(requiring) : w.dice.pick(w.state.courseIds);
  const others = w.state.courseIds.filter((c) => c !== courseId);
  const ids = clearing ? [] : w.dice.chance(0.7) ? [w.dice.pick(others)] : [w.dice.pick(others), w.dice.pick(others)];
  return {
    label: `reg sets the prerequisites of course ${courseId} to [${ids.join(', ')}]`,
    run: () => w.f.domain.setCoursePrerequisites(REGISTRAR, { course_id: courseId, prerequisite_ids: ids }),
  };
}

function setCredits(w: Walk): Step {
  const courseId = w.dice.pick(w.state.courseIds);
  const credits = w.dice.pick(CREDITS);
  return {
    label: `reg makes course ${courseId} worth ${credits} credits`,
    run: () => w.f.domain.updateCourse(REGISTRAR, { course_id: courseId, credits }),
  };
}

/** Closed (since 2000) now and then, open the rest of the time. */
function setRegistrationPeriod(w: Walk): Step {
  const closed = w.dice.chance(0.08);
  return {
    label: `reg ${closed ? 'closes' : 'opens'} registration`,
    run: () => w.f.domain.setRegistrationPeriod(REGISTRAR, { opens_at: '', closes_at: closed ? '2000-01-01T00:00:00Z' : '' }),
  };
}

const STEP_KINDS: ReadonlyArray<readonly [(w: Walk) => Step, number]> = [
  [enroll, 40],
  [swap, 8],
  [drop, 9],
  [leaveWaitlist, 4],
  [grade, 6],
  [resize, 5],
  [freeze, 2],
  [move, 5],
  [createSection, 3],
  [deleteSection, 2],
  [setPrerequisites, 2],
  [setCredits, 3],
  [setRegistrationPeriod, 4],
];

/** Courses worth 3 (the fixture's), 6, 9 and 10 credits (9 and 10 together pass the limit), each with two or three sections; returns the instructors. */
async function buildWorld(f: Fixture, dice: Dice): Promise<Actor[]> {
  for (const id of NEW_INSTRUCTOR_IDS) {
    f.directoryUsers.push({ id, username: `i${id}`, first_name: 'In', last_name: `Structor${id}`, roles: ['instructor'] });
  }
  await f.domain.syncUsers();
  const instructors = [INSTRUCTOR, OTHER_INSTRUCTOR, ...NEW_INSTRUCTOR_IDS.map(instructorActor)];
  const courseIds = [f.courseId];
  for (const credits of [6, 9, 10]) courseIds.push(await f.course(credits));
  for (const courseId of courseIds) {
    // The registrar tries times, rooms and instructors until one is free.
    for (let made = 0, wanted = dice.int(2, 3), tries = 0; made < wanted; tries++) {
      assert.ok(tries < 100, 'no free classroom and instructor for a section');
      await f.domain.createSection(REGISTRAR, sectionRequest(dice, instructors, courseId)).then(
        () => made++,
        (err: unknown) => assert.ok(err instanceof AppError, String(err)),
      );
    }
  }
  return instructors;
}

/** Runs the seed's walk; fails at the first step that breaks a rule, naming seed and step. */
async function walk(seed: number): Promise<void> {
  const f = await setup();
  try {
    const dice = new Dice(seed);
    const instructors = await buildWorld(f, dice);
    let state = readState(f.db);
    assert.deepEqual(violations(state), [], `seed ${seed}: the world breaks a rule before the first step`);
    for (let i = 1; i <= STEPS; i++) {
      const step = dice.weighted(STEP_KINDS)({ f, dice, state, instructors });
      const snapshot = f.snapshot();
      const error = await step.run().then(
        () => undefined,
        (err: unknown) => err ?? new Error('rejected with no reason'),
      );
      const after = readState(f.db);
      if (TRACE) console.log(`seed ${seed} step ${i}: ${step.label}${error ? ` -> refused: ${error instanceof Error ? error.message : String(error)}` : ''}`);
      const found = [
        ...(error ? refusalViolations(error, f.snapshot() !== snapshot) : []),
        ...stepViolations(state, after, step, error !== undefined),
        ...violations(after),
      ];
      if (found.length > 0) assert.fail(`seed ${seed}, step ${i} (${step.label}):\n  ${found.join('\n  ')}`);
      state = after;
    }
    // The walk went where the rules are: every kind of change happened.
    const actions = new Set(f.db.prepare<[], { action: string }>('SELECT DISTINCT action FROM enrollment_events').all().map((r) => r.action));
    for (const action of ['enrolled', 'waitlisted', 'promoted', 'dropped', 'left_waitlist', 'graded', 'grade_cleared']) {
      assert.ok(actions.has(action), `seed ${seed}: no '${action}' event in ${STEPS} steps`);
    }
  } finally {
    f.close();
  }
}

for (const seed of SEEDS) {
  test(`seed ${seed}: ${STEPS} random steps keep every enrollment rule`, () => walk(seed));
}

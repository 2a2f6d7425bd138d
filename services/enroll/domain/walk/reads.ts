/**
 * The random walk's read side (invariants.test.ts).
 *
 * After every step, what the domain's read methods answer is compared with
 * what the tables say, read at once after the write (the domain reads through
 * a connection of its own, and the catalogue through its memo, so a stale
 * read shows). Each answer is derived here from the raw rows, with no join
 * and no counter column: listings item by item, in order, followed page by
 * page to the end; transcripts by a model of the README's rules of their own.
 * The students and sections the step touched are read (and now and then
 * another one), the catalogue with random filters, and now and then a
 * course's waitlists; before the first step, every `SWEEP_EVERY` steps and
 * after the last, every student and section in every way. What is read, as
 * whom, and in pages of which size, comes from a dice of its own
 * (`READ_SALT`): the read checks never change the writes a seed makes.
 */
import { isDeepStrictEqual } from 'node:util';
import type Database from 'better-sqlite3';
import { AppError, Status } from '../../../../lib/errors.js';
import type { Actor } from '../actor.js';
import { REGISTRAR, student, type Fixture } from '../fixture.js';
import { statement, type State } from './state.js';
import { BUSY_STUDENT_IDS, Dice, instructorActor, NOT_PASSING, STUDENT_IDS } from './world.js';

/** A page when page_size is 0, as the proto says. */
const DEFAULT_PAGE_SIZE = 50;
/** Mixed into the seed for the read checks' own dice. */
export const READ_SALT = 0x5eed_4ead;

/** Grade points in tenths (A 4.0 is 40), written out as the README and the proto give them. */
const GRADE_POINTS_TENTHS: Readonly<Record<string, number>> = {
  'A+': 40, A: 40, 'A-': 37,
  'B+': 33, B: 30, 'B-': 27,
  'C+': 23, C: 20, 'C-': 17,
  'D+': 13, D: 10, 'D-': 7,
  F: 0,
};

interface RawUser { id: number; username: string; first_name: string; last_name: string }
interface RawCourse { id: number; code: string; name: string; department_id: number; credits: number }
interface RawSection {
  id: number; course_id: number; classroom: string; capacity: number; waitlist_capacity: number;
  day: string; begin_time: string; end_time: string; instructor_id: number; frozen: 0 | 1; deleted: 0 | 1;
}
interface RawEnrollment { user_id: number; section_id: number; status: 'enrolled' | 'dropped'; grade: string | null; date: string }
interface RawWait { user_id: number; section_id: number; position: number; date: string }
interface RawEvent { id: number; user_id: number; section_id: number; action: string; grade: string | null; actor_id: number | null; at: string }
interface RawHold { id: number; user_id: number; reason: string; placed_by: number; placed_at: string; released_by: number | null; released_at: string | null }

/** The rows the read checks answer from, read on the write connection once the step has committed. */
interface Tables {
  users: Map<number, RawUser>;
  departments: Map<number, string>;
  courses: Map<number, RawCourse>;
  /** By id. */
  sections: RawSection[];
  enrollments: RawEnrollment[];
  waitlist: RawWait[];
  /** By id. */
  events: RawEvent[];
  /** The id of the event that began each place's current enrollment (its latest "enrolled" or "promoted"), by "user:section". */
  enrolledAt: Map<string, number>;
  /** Every registration hold, released or not. */
  holds: RawHold[];
}

const EVENT_SQL = 'SELECT id, user_id, section_id, action, grade, actor_id, at FROM enrollment_events';

/**
 * The tables now. The events are appended, never changed: between sweeps
 * only the new ones are read (`known`, which this extends); a sweep reads
 * them all, and `found` says if an old one changed.
 */
function readTables(db: Database.Database, known: RawEvent[], sweep: boolean, found: string[]): Tables {
  const all = <T>(sql: string) => statement<[], T>(db, sql).all();
  const last = known.at(-1)?.id ?? 0;
  const fresh = statement<[number], RawEvent>(db, `${EVENT_SQL} WHERE id > ?`).all(sweep ? 0 : last).sort(byNumber((e) => e.id));
  if (sweep) {
    const kept = fresh.filter((e) => e.id <= last);
    if (!isDeepStrictEqual(kept, known)) found.push(`the events up to id ${last} changed after they were written`);
    known.length = 0;
  }
  known.push(...fresh.filter((e) => e.id > (known.at(-1)?.id ?? 0)));
  const enrolledAt = new Map<string, number>();
  for (const e of known) {
    if (e.action === 'enrolled' || e.action === 'promoted') enrolledAt.set(`${e.user_id}:${e.section_id}`, e.id);
  }
  return {
    users: new Map(all<RawUser>('SELECT id, username, first_name, last_name FROM users').map((u) => [u.id, u])),
    departments: new Map(all<{ id: number; name: string }>('SELECT id, name FROM departments').map((d) => [d.id, d.name])),
    courses: new Map(all<RawCourse>('SELECT id, code, name, department_id, credits FROM courses').map((c) => [c.id, c])),
    sections: all<RawSection>(
      'SELECT id, course_id, classroom, capacity, waitlist_capacity, day, begin_time, end_time, instructor_id, frozen, deleted FROM sections',
    ).sort(byNumber((x) => x.id)),
    enrollments: all<RawEnrollment>('SELECT user_id, section_id, status, grade, date FROM enrollments'),
    waitlist: all<RawWait>('SELECT user_id, section_id, position, date FROM waitlist'),
    events: known,
    enrolledAt,
    holds: all<RawHold>('SELECT id, user_id, reason, placed_by, placed_at, released_by, released_at FROM registration_holds'),
  };
}

function byNumber<T>(key: (x: T) => number): (a: T, b: T) => number {
  return (a, b) => key(a) - key(b);
}

const sectionOf = (t: Tables, id: number): RawSection | undefined => t.sections.find((x) => x.id === id);

const liveSection = (t: Tables, id: number): boolean => sectionOf(t, id)?.deleted === 0;

const courseOfSection = (t: Tables, sectionId: number): RawCourse => t.courses.get(sectionOf(t, sectionId)!.course_id)!;

/** A section as a read should answer it, its counts counted from the rows. */
function expectedSection(t: Tables, x: RawSection, view: 'basic' | 'full'): Record<string, unknown> {
  const course = t.courses.get(x.course_id)!;
  const basic = {
    id: x.id,
    course_id: x.course_id,
    course_code: course.code,
    classroom: x.classroom,
    capacity: x.capacity,
    waitlist_capacity: x.waitlist_capacity,
    day: x.day,
    begin_time: x.begin_time,
    end_time: x.end_time,
    instructor_id: x.instructor_id,
    frozen: x.frozen === 1,
    deleted: x.deleted === 1,
    enrolled_count: t.enrollments.filter((e) => e.section_id === x.id && e.status === 'enrolled').length,
    waitlist_count: t.waitlist.filter((w) => w.section_id === x.id).length,
  };
  if (view === 'basic') return basic;
  const instructor = t.users.get(x.instructor_id)!;
  return {
    ...basic,
    course_name: course.name,
    course_credits: course.credits,
    department_id: course.department_id,
    department_name: t.departments.get(course.department_id),
    instructor_username: instructor.username,
    instructor_name: `${instructor.first_name} ${instructor.last_name}`.trim() || instructor.username,
  };
}

function expectedEnrollment(t: Tables, e: RawEnrollment): Record<string, unknown> {
  const course = courseOfSection(t, e.section_id);
  return {
    user_id: e.user_id,
    section_id: e.section_id,
    status: e.status,
    grade: e.grade ?? '',
    date: e.date,
    username: t.users.get(e.user_id)!.username,
    course_id: course.id,
    course_code: course.code,
  };
}

/** The live section, other than `exceptId`, in which the student takes the course now (enrolled, ungraded); 0 when none. */
function seatInCourseNow(t: Tables, userId: number, courseId: number, exceptId: number): number {
  const seats = t.enrollments
    .filter((e) => e.user_id === userId && e.status === 'enrolled' && e.grade === null && e.section_id !== exceptId)
    .map((e) => sectionOf(t, e.section_id)!)
    .filter((x) => x.deleted === 0 && x.course_id === courseId)
    .sort(byNumber((x) => x.id));
  return seats[0]?.id ?? 0;
}

/** A place in line; `replacing_section_id` is the seat the student holds now in another section of the course. */
function expectedWaitEntry(t: Tables, w: RawWait): Record<string, unknown> {
  return {
    user_id: w.user_id,
    section_id: w.section_id,
    position: w.position,
    date: w.date,
    username: t.users.get(w.user_id)!.username,
    replacing_section_id: seatInCourseNow(t, w.user_id, sectionOf(t, w.section_id)!.course_id, w.section_id),
  };
}

/** A student's active holds (not released), oldest first. */
function expectedHolds(t: Tables, userId: number): Array<Record<string, unknown>> {
  return t.holds
    .filter((h) => h.user_id === userId && h.released_at === null)
    .sort(byNumber((h) => h.id))
    .map((h) => ({ id: h.id, user_id: h.user_id, reason: h.reason, placed_by: h.placed_by, placed_at: h.placed_at, released_by: 0, released_at: '' }));
}

function expectedEvent(e: RawEvent): Record<string, unknown> {
  return { id: e.id, user_id: e.user_id, section_id: e.section_id, action: e.action, grade: e.grade ?? '', actor_id: e.actor_id ?? 0, at: e.at };
}

/**
 * The transcript by the README's rules, from the rows: every graded attempt,
 * in section order. An attempt is repeated when the student enrolled in
 * another section of the course later (the events order every enrollment:
 * the one of a place is its latest "enrolled" or "promoted") and that one
 * has a final grade (not I). Each course then counts once: a letter grade
 * (A+ to F) attempts its credits and weighs its points; any grade but F, NP
 * and I earns them (P without points). In progress: the credits of the
 * courses taken now.
 */
function expectedTranscript(t: Tables, userId: number, found: string[]): Record<string, unknown> {
  const graded = t.enrollments
    .filter((e) => e.user_id === userId && e.status === 'enrolled' && e.grade !== null)
    .sort(byNumber((e) => e.section_id));
  const began = (e: RawEnrollment): number => {
    const id = t.enrolledAt.get(`${e.user_id}:${e.section_id}`);
    if (id === undefined) found.push(`s${e.user_id} is enrolled in §${e.section_id}, yet has no "enrolled" or "promoted" event there`);
    return id ?? 0;
  };
  let attempted = 0;
  let earned = 0;
  let pointsTenths = 0;
  const entries = graded.map((e) => {
    const course = courseOfSection(t, e.section_id);
    const repeated = graded.some(
      (later) => later !== e && courseOfSection(t, later.section_id).id === course.id && later.grade !== 'I' && began(later) > began(e),
    );
    if (!repeated) {
      if (e.grade! in GRADE_POINTS_TENTHS) {
        attempted += course.credits;
        pointsTenths += GRADE_POINTS_TENTHS[e.grade!]! * course.credits;
      }
      if (!NOT_PASSING.includes(e.grade!)) earned += course.credits;
    }
    return {
      section_id: e.section_id,
      course_id: course.id,
      course_code: course.code,
      course_name: course.name,
      credits: course.credits,
      grade: e.grade,
      repeated,
    };
  });
  const inProgress = t.enrollments
    .filter((e) => e.user_id === userId && e.status === 'enrolled' && e.grade === null && liveSection(t, e.section_id))
    .reduce((sum, e) => sum + courseOfSection(t, e.section_id).credits, 0);
  // To two decimals, half up, in whole numbers: the average in hundredths is tenths × 10 / credits.
  const gpa = attempted > 0 ? Math.floor((20 * pointsTenths + attempted) / (2 * attempted)) / 100 : undefined;
  return { user_id: userId, entries, credits_attempted: attempted, credits_earned: earned, credits_in_progress: inProgress, gpa };
}

/** A short, readable form of a value for a message. */
function show(value: unknown): string {
  const text = JSON.stringify(value) ?? 'undefined';
  return text.length > 1200 ? `${text.slice(0, 1200)}…` : text;
}

function errorText(err: unknown): string {
  return err instanceof AppError ? `${Status[err.code]}: ${err.message}` : String(err);
}

/** Counts what the read checks met, so that the walk is known to reach them. */
interface ReadCoverage {
  /** Transcript entries a later attempt replaced. */
  repeated: number;
  /** Transcript entries at I beside another attempt at their course. */
  incompleteRetakes: number;
  /** Waitlist entries naming the seat they would replace. */
  replacing: number;
  /** Listings followed over more than one page. */
  pagedListings: number;
  /** Active holds the students' reads listed. */
  holds: number;
}

/** What one round of read checks works with. */
interface ReadCheck {
  f: Fixture;
  rd: Dice;
  t: Tables;
  instructors: Actor[];
  coverage: ReadCoverage;
  /** Every filter, every reader, and both small pages and the default one (a sweep); else one of each, at random. */
  full: boolean;
  found: string[];
}

type PageFn = (size: number, token: string) => Promise<{ items: Array<Record<string, unknown>>; next: string }>;

/**
 * Follows a listing's page tokens from the first page to the last with pages
 * of `size` (0: the default): no page longer than that, no empty page after
 * the first, no item twice. Returns every item in the order given; undefined
 * (and `found` says why) when a call failed.
 */
async function allPages(c: ReadCheck, what: string, size: number, page: PageFn, key: (item: Record<string, unknown>) => string) {
  const items: Array<Record<string, unknown>> = [];
  const seen = new Set<string>();
  const most = size || DEFAULT_PAGE_SIZE;
  let token = '';
  for (let pages = 1; ; pages++) {
    if (pages > 200) {
      c.found.push(`${what}: more than 200 pages`);
      return undefined;
    }
    let answer: Awaited<ReturnType<PageFn>>;
    try {
      answer = await page(size, token);
    } catch (err) {
      c.found.push(`${what}: page ${pages} failed with ${errorText(err)}`);
      return undefined;
    }
    if (answer.items.length > most) c.found.push(`${what}: page ${pages} holds ${answer.items.length}`);
    if (answer.items.length === 0 && pages > 1) c.found.push(`${what}: page ${pages} is empty, yet the page before gave a token`);
    for (const item of answer.items) {
      if (seen.has(key(item))) c.found.push(`${what}: ${key(item)} is listed twice`);
      seen.add(key(item));
    }
    items.push(...answer.items);
    if (answer.next === '') {
      if (pages > 1) c.coverage.pagedListings++;
      return items;
    }
    token = answer.next;
  }
}

/**
 * A listing read to its end, in small pages and in the default one (one of
 * them at random, unless a sweep): it must give the rows in order, each once.
 * Small pages hold one to three items, or a third of a longer list.
 */
async function checkListing(
  c: ReadCheck,
  label: string,
  page: PageFn,
  key: (item: Record<string, unknown>) => string,
  expected: ReadonlyArray<Record<string, unknown>>,
): Promise<void> {
  const small = c.full || c.rd.chance(0.7);
  const whole = c.full || !small;
  if (small) {
    const size = Math.max(c.rd.int(1, 3), Math.ceil(expected.length / 3));
    const what = `${label}, in pages of ${size}`;
    const items = await allPages(c, what, size, page, key);
    if (items) compareLists(what, items, expected, c.found);
  }
  if (whole) {
    const what = `${label}, in one page`;
    const items = await allPages(c, what, 0, page, key);
    if (items) compareLists(what, items, expected, c.found);
  }
}

/** Where a listing and the rows first disagree. */
function compareLists(what: string, got: ReadonlyArray<Record<string, unknown>>, expected: ReadonlyArray<Record<string, unknown>>, found: string[]): void {
  if (isDeepStrictEqual(got, expected)) return;
  const i = Array.from({ length: Math.max(got.length, expected.length) }, (_, k) => k).find((k) => !isDeepStrictEqual(got[k], expected[k]))!;
  found.push(`${what}: item ${i + 1} of ${got.length} is ${show(got[i])}; the tables say ${show(expected[i])} (of ${expected.length})`);
}

function compareOne(what: string, got: unknown, expected: unknown, found: string[]): void {
  if (!isDeepStrictEqual(got, expected)) found.push(`${what}: answered ${show(got)}; the tables say ${show(expected)}`);
}

/**
 * Where a transcript and the rows disagree: its totals, its entries as
 * [section, grade, repeated], when each attempt at a course whose entries
 * differ began, and the exact average when only its rounding differs.
 */
function compareTranscript(what: string, got: Record<string, unknown>, expected: Record<string, unknown>, t: Tables, found: string[]): void {
  if (isDeepStrictEqual(got, expected)) return;
  type Entry = { section_id: number; course_id: number; grade: string; credits: number; repeated: boolean };
  const gotEntries = (got.entries ?? []) as Entry[];
  const expectedEntries = expected.entries as Entry[];
  const brief = (entries: Entry[]) => show(entries.map((e) => [e.section_id, e.grade, e.repeated]));
  const totals = (x: Record<string, unknown>) => show([x.credits_attempted, x.credits_earned, x.credits_in_progress, x.gpa]);
  const parts = [`[attempted, earned, in progress, gpa] ${totals(got)}, the tables say ${totals(expected)}`];
  if (brief(gotEntries) !== brief(expectedEntries)) {
    parts.push(`entries [section, grade, repeated] ${brief(gotEntries)}, the tables say ${brief(expectedEntries)}`);
    const differing = new Set(expectedEntries.filter((e, i) => !isDeepStrictEqual(gotEntries[i], e)).map((e) => e.course_id));
    const attempts = expectedEntries
      .filter((e) => differing.has(e.course_id))
      .map((e) => {
        const row = t.enrollments.find((x) => x.user_id === got.user_id && x.section_id === e.section_id)!;
        return `§${e.section_id} ${e.grade} (enrolled at event ${t.enrolledAt.get(`${row.user_id}:${row.section_id}`)}, on ${row.date})`;
      });
    parts.push(`attempts in the order of their events: ${attempts.join(', ')}`);
  } else if (totals(got) === totals(expected)) {
    parts.push(`answered ${show(got)}, the tables say ${show(expected)}`);
  }
  if (got.gpa !== expected.gpa && got.credits_attempted === expected.credits_attempted) {
    const counted = expectedEntries.filter((e) => !e.repeated && e.grade in GRADE_POINTS_TENTHS);
    const tenths = counted.reduce((sum, e) => sum + GRADE_POINTS_TENTHS[e.grade]! * e.credits, 0);
    parts.push(`the average is exactly ${tenths / 10}/${String(expected.credits_attempted)} (${counted.map((e) => `${e.grade} × ${e.credits}`).join(' + ')})`);
  }
  found.push(`${what}: ${parts.join('; ')}`);
}

/** `found` says so unless the promise is refused with `code`. */
async function refused(c: ReadCheck, what: string, promise: Promise<unknown>, code: Status): Promise<void> {
  const outcome = await promise.then(
    () => 'answered',
    (err: unknown) => (err instanceof AppError && err.code === code ? undefined : `refused with ${errorText(err)}`),
  );
  if (outcome !== undefined) c.found.push(`${what}: ${outcome}, not ${Status[code]}`);
}

/** Some of `items`, each with chance `p`; all of them on a sweep. */
const some = <T>(c: ReadCheck, items: readonly T[], p: number): T[] => (c.full ? [...items] : items.filter(() => c.rd.chance(p)));

const asRows = (list: readonly unknown[]) => list as Array<Record<string, unknown>>;

/**
 * A student's enrollments (by each status filter), waitlist, sections,
 * transcript, events and holds, as they or the registrar read them; refused
 * to another student and to an instructor.
 */
async function checkStudent(c: ReadCheck, userId: number): Promise<void> {
  const { f, rd, t } = c;
  const d = f.domain;
  // They read it, or the registrar does.
  const asker = rd.chance(0.5) ? student(userId) : REGISTRAR;
  const who = `${asker.username} reads s${userId}'s`;
  const statuses = c.full ? (['', 'enrolled', 'dropped'] as const) : [rd.pick(['', 'enrolled', 'dropped'] as const)];
  for (const status of statuses) {
    await checkListing(
      c,
      `${who} enrollments${status ? ` (${status})` : ''}`,
      async (size, token) => {
        const r = await d.listUserEnrollments(asker, { user_id: userId, status, page_size: size, page_token: token });
        return { items: asRows(r.enrollments), next: r.next_page_token };
      },
      (e) => `§${String(e.section_id)}`,
      t.enrollments
        .filter((e) => e.user_id === userId && (status === '' || e.status === status) && liveSection(t, e.section_id))
        .sort(byNumber((e) => e.section_id))
        .map((e) => expectedEnrollment(t, e)),
    );
  }

  const waits = t.waitlist
    .filter((w) => w.user_id === userId && liveSection(t, w.section_id))
    .sort(byNumber((w) => w.section_id))
    .map((w) => expectedWaitEntry(t, w));
  c.coverage.replacing += waits.filter((w) => w.replacing_section_id !== 0).length;
  await checkListing(
    c,
    `${who} waitlist`,
    async (size, token) => {
      const r = await d.listUserWaitlist(asker, { user_id: userId, page_size: size, page_token: token });
      return { items: asRows(r.entries), next: r.next_page_token };
    },
    (w) => `§${String(w.section_id)}`,
    waits,
  );

  for (const view of some(c, ['basic', 'full'] as const, 0.15)) {
    await checkListing(
      c,
      `${who} sections (${view})`,
      async (size, token) => {
        const r = await d.listUserSections(asker, { user_id: userId, view, page_size: size, page_token: token });
        return { items: asRows(r.sections), next: r.next_page_token };
      },
      (x) => `§${String(x.id)}`,
      t.sections
        .filter((x) => x.deleted === 0 && t.enrollments.some((e) => e.user_id === userId && e.section_id === x.id && e.status === 'enrolled'))
        .map((x) => expectedSection(t, x, view)),
    );
  }

  const transcript = expectedTranscript(t, userId, c.found);
  const entries = transcript.entries as Array<{ course_id: number; grade: string; repeated: boolean }>;
  c.coverage.repeated += entries.filter((e) => e.repeated).length;
  c.coverage.incompleteRetakes += entries.filter((e) => e.grade === 'I' && entries.some((o) => o !== e && o.course_id === e.course_id)).length;
  await d.getUserTranscript(asker, { user_id: userId }).then(
    (got) => compareTranscript(`${who} transcript`, { ...got, gpa: got.gpa ?? undefined }, transcript, t, c.found),
    (err: unknown) => c.found.push(`${who} transcript: ${errorText(err)}`),
  );

  if (c.full || rd.chance(0.6)) {
    await checkListing(
      c,
      `${who} enrollment events`,
      async (size, token) => {
        const r = await d.listUserEnrollmentEvents(asker, { user_id: userId, page_size: size, page_token: token });
        return { items: asRows(r.events), next: r.next_page_token };
      },
      (e) => `event ${String(e.id)}`,
      t.events
        .filter((e) => e.user_id === userId)
        .reverse()
        .map(expectedEvent),
    );
  }

  // Holds are few: one answer, no pages.
  const holds = expectedHolds(t, userId);
  c.coverage.holds += holds.length;
  await d.listUserHolds(asker, { user_id: userId }).then(
    (got) => compareLists(`${who} holds`, asRows(got.holds), holds, c.found),
    (err: unknown) => c.found.push(`${who} holds: ${errorText(err)}`),
  );

  // Another student, and an instructor, read none of it.
  for (const other of some(c, [student(userId === 29 ? 10 : userId + 1), rd.pick(c.instructors)], 0.05)) {
    const reads = `${other.username} reads s${userId}'s`;
    await refused(c, `${reads} enrollments`, d.listUserEnrollments(other, { user_id: userId }), Status.PERMISSION_DENIED);
    await refused(c, `${reads} waitlist`, d.listUserWaitlist(other, { user_id: userId }), Status.PERMISSION_DENIED);
    await refused(c, `${reads} transcript`, d.getUserTranscript(other, { user_id: userId }), Status.PERMISSION_DENIED);
    await refused(c, `${reads} enrollment events`, d.listUserEnrollmentEvents(other, { user_id: userId }), Status.PERMISSION_DENIED);
    await refused(c, `${reads} holds`, d.listUserHolds(other, { user_id: userId }), Status.PERMISSION_DENIED);
  }
}

/**
 * A section (GetSection), its roster (by each status filter), waitlist and
 * events, as its instructor and as the registrar read them; refused to
 * another instructor and to a student; NOT_FOUND once deleted.
 */
async function checkSection(c: ReadCheck, sectionId: number): Promise<void> {
  const { f, rd, t } = c;
  const d = f.domain;
  const x = sectionOf(t, sectionId);
  if (x === undefined || x.deleted === 1) {
    const what = `${x === undefined ? 'unknown' : 'deleted'} §${sectionId}`;
    await refused(c, `reading ${what}`, d.getSection(student(10), { section_id: sectionId }), Status.NOT_FOUND);
    await refused(c, `reg lists the roster of ${what}`, d.listSectionEnrollments(REGISTRAR, { section_id: sectionId }), Status.NOT_FOUND);
    await refused(c, `reg lists the waitlist of ${what}`, d.listSectionWaitlist(REGISTRAR, { section_id: sectionId }), Status.NOT_FOUND);
    await refused(c, `reg lists the events of ${what}`, d.listSectionEnrollmentEvents(REGISTRAR, { section_id: sectionId }), Status.NOT_FOUND);
    return;
  }

  for (const view of some(c, ['basic', 'full', ''] as const, 0.3)) {
    await d.getSection(student(rd.pick(STUDENT_IDS)), { section_id: sectionId, view }).then(
      (got) => compareOne(`reading §${sectionId} (${view || 'default'} view)`, got, expectedSection(t, x, view === 'basic' ? 'basic' : 'full'), c.found),
      (err: unknown) => c.found.push(`reading §${sectionId}: ${errorText(err)}`),
    );
  }

  const teacher = instructorActor(x.instructor_id);
  for (const asker of c.full ? [teacher, REGISTRAR] : [rd.pick([teacher, REGISTRAR])]) {
    const who = `${asker.username} reads §${sectionId}'s`;
    const statuses = c.full ? (['', 'enrolled', 'dropped'] as const) : [rd.pick(['', 'enrolled', 'dropped'] as const)];
    for (const status of statuses) {
      await checkListing(
        c,
        `${who} roster${status ? ` (${status})` : ''}`,
        async (size, token) => {
          const r = await d.listSectionEnrollments(asker, { section_id: sectionId, status, page_size: size, page_token: token });
          return { items: asRows(r.enrollments), next: r.next_page_token };
        },
        (e) => `s${String(e.user_id)}`,
        t.enrollments
          .filter((e) => e.section_id === sectionId && (status === '' || e.status === status))
          .sort(byNumber((e) => e.user_id))
          .map((e) => expectedEnrollment(t, e)),
      );
    }
    await checkListing(
      c,
      `${who} waitlist`,
      async (size, token) => {
        const r = await d.listSectionWaitlist(asker, { section_id: sectionId, page_size: size, page_token: token });
        return { items: asRows(r.entries), next: r.next_page_token };
      },
      (w) => `s${String(w.user_id)}`,
      t.waitlist
        .filter((w) => w.section_id === sectionId)
        .sort(byNumber((w) => w.position))
        .map((w) => expectedWaitEntry(t, w)),
    );
    if (c.full || rd.chance(0.5)) {
      await checkListing(
        c,
        `${who} enrollment events`,
        async (size, token) => {
          const r = await d.listSectionEnrollmentEvents(asker, { section_id: sectionId, page_size: size, page_token: token });
          return { items: asRows(r.events), next: r.next_page_token };
        },
        (e) => `event ${String(e.id)}`,
        t.events
          .filter((e) => e.section_id === sectionId)
          .reverse()
          .map(expectedEvent),
      );
    }
  }

  // Another instructor, and a student, read none of it.
  const outsiders = [rd.pick(c.instructors.filter((i) => i.userId !== x.instructor_id)), student(rd.pick(STUDENT_IDS))];
  for (const outsider of some(c, outsiders, 0.1)) {
    const who = `${outsider.username}, who does not teach §${sectionId}, lists its`;
    await refused(c, `${who} roster`, d.listSectionEnrollments(outsider, { section_id: sectionId }), Status.PERMISSION_DENIED);
    await refused(c, `${who} waitlist`, d.listSectionWaitlist(outsider, { section_id: sectionId }), Status.PERMISSION_DENIED);
    await refused(c, `${who} events`, d.listSectionEnrollmentEvents(outsider, { section_id: sectionId }), Status.PERMISSION_DENIED);
  }
}

/** A course's waitlists, as the registrar (every live section's) and as an instructor (the sections they teach). */
async function checkCourseWaitlist(c: ReadCheck, courseId: number): Promise<void> {
  const { f, rd, t } = c;
  for (const asker of c.full ? [REGISTRAR, ...c.instructors] : [rd.chance(0.5) ? REGISTRAR : rd.pick(c.instructors)]) {
    await checkListing(
      c,
      `${asker.username} lists the waitlists of course ${courseId}`,
      async (size, token) => {
        const r = await f.domain.listCourseWaitlist(asker, { course_id: courseId, page_size: size, page_token: token });
        return { items: asRows(r.entries), next: r.next_page_token };
      },
      (w) => `s${String(w.user_id)} in §${String(w.section_id)}`,
      t.waitlist
        .filter((w) => {
          const x = sectionOf(t, w.section_id)!;
          return x.course_id === courseId && x.deleted === 0 && (asker === REGISTRAR || x.instructor_id === asker.userId);
        })
        .sort((a, b) => a.section_id - b.section_id || a.position - b.position)
        .map((w) => expectedWaitEntry(t, w)),
    );
  }
}

/** The catalogue with random filters, in a random view: the live sections that match, with their counts. */
async function checkCatalogue(c: ReadCheck): Promise<void> {
  const { f, rd, t } = c;
  const courseIds = [...t.courses.keys()];
  const departmentId = t.courses.get(courseIds[0]!)!.department_id;
  const req = {
    course_id: rd.chance(0.3) ? (rd.chance(0.9) ? rd.pick(courseIds) : 999) : 0,
    department_id: rd.chance(0.2) ? (rd.chance(0.8) ? departmentId : 999) : 0,
    instructor_id: rd.chance(0.3) ? rd.pick(c.instructors).userId : 0,
    day: rd.chance(0.3) ? rd.pick(['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday']) : '',
    availability: rd.weighted([['', 2], ['seats', 1], ['open', 1]] as const),
    view: rd.pick(['', 'basic', 'full'] as const),
  };
  // A weekday in any case.
  if (rd.chance(0.3)) req.day = req.day.toLowerCase();
  const view = req.view === 'full' ? 'full' : 'basic';
  const expected = t.sections
    .filter((x) => {
      if (x.deleted === 1) return false;
      if (req.course_id !== 0 && x.course_id !== req.course_id) return false;
      if (req.department_id !== 0 && t.courses.get(x.course_id)!.department_id !== req.department_id) return false;
      if (req.instructor_id !== 0 && x.instructor_id !== req.instructor_id) return false;
      if (req.day !== '' && x.day.toLowerCase() !== req.day.toLowerCase()) return false;
      if (req.availability === '') return true;
      const seated = t.enrollments.filter((e) => e.section_id === x.id && e.status === 'enrolled').length;
      const waiting = t.waitlist.filter((w) => w.section_id === x.id).length;
      return x.frozen === 0 && (seated < x.capacity || (req.availability === 'open' && waiting < x.waitlist_capacity));
    })
    .map((x) => expectedSection(t, x, view));
  const filters = Object.entries(req)
    .filter(([, v]) => v !== 0 && v !== '')
    .map(([k, v]) => `${k} ${String(v)}`)
    .join(', ');
  await checkListing(
    c,
    `the catalogue (${filters || 'no filter'})`,
    async (size, token) => {
      const r = await f.domain.listSections(student(rd.pick(STUDENT_IDS)), { ...req, page_size: size, page_token: token });
      return { items: asRows(r.sections), next: r.next_page_token };
    },
    (x) => `§${String(x.id)}`,
    expected,
  );
}

/** The students and sections whose rows the step changed (places, holds, sections): a read right after it must see the change. */
export function touchedBy(before: State, after: State): { users: number[]; sections: number[] } {
  const users = new Set<number>();
  const sections = new Set<number>();
  const places = (s: State) => {
    const m = new Map<string, string>();
    for (const e of s.enrollments) m.set(`${e.user_id}:${e.section_id}`, `${e.status} ${e.grade}`);
    for (const w of s.waitlist) m.set(`${w.user_id}:${w.section_id}`, `${m.get(`${w.user_id}:${w.section_id}`) ?? ''} waiting ${w.position}`);
    return m;
  };
  const was = places(before);
  const is = places(after);
  for (const key of new Set([...was.keys(), ...is.keys()])) {
    if (was.get(key) === is.get(key)) continue;
    const [userId, sectionId] = key.split(':').map(Number) as [number, number];
    users.add(userId);
    sections.add(sectionId);
  }
  const holdsOf = (s: State, userId: number) => s.holds.filter((h) => h.user_id === userId).map((h) => h.id).join();
  for (const userId of new Set([...before.holds, ...after.holds].map((h) => h.user_id))) {
    if (holdsOf(before, userId) !== holdsOf(after, userId)) users.add(userId);
  }
  for (const x of after.sections) {
    const old = before.sections.find((y) => y.id === x.id);
    if (!old || !isDeepStrictEqual(old, x)) sections.add(x.id);
  }
  return { users: [...users], sections: [...sections] };
}

/** What one walk keeps for its read checks. */
export interface Reader {
  rd: Dice;
  events: RawEvent[];
  coverage: ReadCoverage;
}

/**
 * What the read methods answer that the tables contradict, after a step:
 * about up to two students and two sections it touched (each most of the
 * time) and now and then another of each, the catalogue, and now and then a
 * course's waitlists. A sweep reads every student and section in every way,
 * and the catalogue six times.
 */
export async function readViolations(
  f: Fixture,
  reader: Reader,
  instructors: Actor[],
  touched: { users: number[]; sections: number[] },
  sweep: boolean,
): Promise<string[]> {
  const found: string[] = [];
  const t = readTables(f.db, reader.events, sweep, found);
  const rd = reader.rd;
  const c: ReadCheck = { f, rd, t, instructors, coverage: reader.coverage, full: sweep, found };
  const users = new Set(sweep ? STUDENT_IDS : touched.users.filter(() => rd.chance(0.7)).slice(0, 2));
  if (rd.chance(0.2)) users.add(rd.pick(rd.chance(0.7) ? BUSY_STUDENT_IDS : STUDENT_IDS));
  const sections = new Set(sweep ? [...t.sections.map((x) => x.id), 999] : touched.sections.filter(() => rd.chance(0.7)).slice(0, 2));
  if (rd.chance(0.2)) sections.add(rd.chance(0.95) ? rd.pick(t.sections).id : 999);
  for (const userId of [...users].sort(byNumber((u) => u))) await checkStudent(c, userId);
  for (const sectionId of [...sections].sort(byNumber((s) => s))) await checkSection(c, sectionId);
  for (let i = sweep ? 6 : 1; i > 0; i--) await checkCatalogue(c);
  for (const courseId of some(c, [...t.courses.keys()], 0.15)) await checkCourseWaitlist(c, courseId);
  return found;
}

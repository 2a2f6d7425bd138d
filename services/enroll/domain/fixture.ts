/**
 * Test fixture (not a test file itself): a migrated database file with
 * separate read and write connections, a fake user directory, and a small
 * catalogue. Used by the *.test.ts files beside it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { AppError, type Status } from '../../../lib/errors.js';
import type { WritableDb } from '../../../lib/sqlite.js';
import { readAcrossBoundary } from '../../../lib/reader-thread.js';
import type { ReadScope } from '../../../lib/shared-reads.js';
import { writeAcrossBoundary } from '../../../lib/writer-thread.js';
import type { WriteFn } from '../../../lib/writer.js';
import { ENROLL_MIGRATIONS } from '../store/migrations.js';
import type { Actor } from './actor.js';
import { EnrollDomain } from './enroll-domain.js';
import type { DirectoryUser, UserChange } from './user-sync.js';

export const REGISTRAR: Actor = { userId: 1, username: 'reg', roles: ['registrar'] };
export const INSTRUCTOR: Actor = { userId: 2, username: 'ian', roles: ['instructor'] };
export const OTHER_INSTRUCTOR: Actor = { userId: 3, username: 'ivy', roles: ['instructor'] };
/** Students have ids 10..29. */
export const student = (id: number): Actor => ({ userId: id, username: `s${id}`, roles: ['student'] });

function directoryUsers(): DirectoryUser[] {
  const users: DirectoryUser[] = [
    { id: 1, username: 'reg', first_name: 'Rita', last_name: 'Gist', roles: ['registrar'] },
    { id: 2, username: 'ian', first_name: 'Ian', last_name: 'Struct', roles: ['instructor'] },
    { id: 3, username: 'ivy', first_name: 'Ivy', last_name: 'Teach', roles: ['instructor'] },
  ];
  for (let id = 10; id < 30; id++) {
    users.push({ id, username: `s${id}`, first_name: 'Stu', last_name: `Dent${id}`, roles: ['student'] });
  }
  return users;
}

export interface Fixture {
  domain: EnrollDomain;
  /** The write connection, for direct inspection. */
  db: Database.Database;
  /** The read connection the domain reads from. */
  readDb: Database.Database;
  /** What the fake auth service knows; push to it to register users later. */
  directoryUsers: DirectoryUser[];
  /** What the fake directory answers to userChangesAfter. */
  userChanges: UserChange[];
  directoryCalls: number;
  /** How many times the domain has entered a read of the read handle (see ReadScope). */
  readsEntered: number;
  /** The domain's clock in ms since the epoch; undefined (the default) is the real time. */
  nowMs: number | undefined;
  /** A course (CPSC 449) in a department, created by the registrar. */
  courseId: number;
  /** Another course in the department (3 credits unless given), created by the registrar; returns its id. */
  course(credits?: number): Promise<number>;
  /** Creates a section of the course (unless given) taught by INSTRUCTOR (Monday 09:00-10:00, capacity 2, a classroom of its own by default). */
  section(overrides?: Partial<{ course_id: number; capacity: number; waitlist_capacity: number; day: string; begin_time: string; end_time: string; instructor_id: number }>): Promise<number>;
  /** Every table's rows, to show that a refused call changed nothing. */
  snapshot(): string;
  close(): void;
}

/** `pageSize` is how many users the fake directory returns per call. */
export async function setup(
  options: {
    syncUsers?: boolean;
    pageSize?: number;
    readThroughWriter?: boolean;
    /** How writes reach the database; by default each in its own transaction, across the writer thread's boundary. */
    write?: (db: WritableDb) => WriteFn;
    /** How a request's own write reaches `write` (`EnrollDomainDeps.requestWrite`); by default it is `write`. */
    requestWrite?: (write: WriteFn) => WriteFn;
  } = {},
): Promise<Fixture> {
  const dir = mkdtempSync(join(tmpdir(), 'enroll-test-'));
  const file = join(dir, 'enroll.db');
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('foreign_keys = ON');
  for (const sql of ENROLL_MIGRATIONS) db.transaction(() => db.exec(sql)).immediate();
  // The primary with its writer on the event loop reads through the write connection.
  const readDb = options.readThroughWriter ? db : new Database(file);
  readDb.pragma('foreign_keys = ON');

  const fixture = {
    directoryUsers: directoryUsers(),
    userChanges: [] as UserChange[],
    directoryCalls: 0,
    readsEntered: 0,
    nowMs: undefined,
  } as Fixture;
  const pageSize = options.pageSize ?? 1000;
  const write = (options.write ?? writeAcrossBoundary)(db as WritableDb);
  const reads: ReadScope = { enter: () => void fixture.readsEntered++ };
  const domain = new EnrollDomain({
    db: readDb,
    reads,
    // Reads and writes cross the boundary a reader and a writer thread put around them.
    query: readAcrossBoundary(readDb, reads),
    write,
    requestWrite: options.requestWrite?.(write),
    now: () => fixture.nowMs ?? Date.now(),
    directory: {
      usersAfter: async (afterId) => {
        fixture.directoryCalls++;
        return fixture.directoryUsers.filter((u) => u.id > afterId).slice(0, pageSize);
      },
      userChangesAfter: async (afterSeq) => fixture.userChanges.filter((c) => c.seq > afterSeq).slice(0, pageSize),
    },
  });
  if (options.syncUsers ?? true) await domain.syncUsers();
  const dept = await domain.createDepartment(REGISTRAR, { name: 'Computer Science' });
  const course = await domain.createCourse(REGISTRAR, { code: 'CPSC 449', name: 'Web Back-End', department_id: dept.id });

  let rooms = 0;
  let courses = 0;
  return Object.assign(fixture, {
    domain,
    db,
    readDb,
    courseId: course.id,
    async course(credits?: number) {
      courses += 1;
      const made = await domain.createCourse(REGISTRAR, { code: `CPSC ${500 + courses}`, name: `Elective ${courses}`, department_id: dept.id, credits });
      return made.id;
    },
    async section(overrides = {}) {
      // A room of its own, so that sections at the same time do not share one.
      rooms += 1;
      const s = await domain.createSection(REGISTRAR, {
        course_id: course.id,
        classroom: `R${rooms}`,
        capacity: 2,
        day: 'Monday',
        begin_time: '09:00',
        end_time: '10:00',
        instructor_id: INSTRUCTOR.userId,
        ...overrides,
      });
      return s.id;
    },
    snapshot() {
      const tables = ['users', 'departments', 'courses', 'course_prerequisites', 'sections', 'enrollments', 'waitlist', 'registration_period', 'enrollment_events', 'registration_holds'];
      return JSON.stringify(tables.map((t) => db.prepare(`SELECT * FROM ${t} ORDER BY 1, 2`).all()));
    },
    close() {
      if (readDb !== db) readDb.close();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  });
}

/** Asserts that `promise` rejects with an AppError of `code` (and `field`/message when given). */
export async function rejectsWith(
  promise: Promise<unknown>,
  code: Status,
  expect: { field?: string; message?: RegExp } = {},
): Promise<AppError> {
  const err = await promise.then(
    () => assert.fail(`expected rejection with code ${code}`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof AppError, `expected an AppError, got ${String(err)}`);
  assert.equal(err.code, code, `code of "${err.message}"`);
  if (expect.field !== undefined) assert.equal(err.field, expect.field);
  if (expect.message) assert.match(err.message, expect.message);
  return err;
}

/** Enrolls each student (by id) in the section, in order; returns the responses. */
export async function enrollAll(f: Fixture, sectionId: number, ids: number[]) {
  const out = [];
  for (const id of ids) out.push(await f.domain.createEnrollment(student(id), { user_id: id, section_id: sectionId }));
  return out;
}

/** The section's waitlist as [user_id, position] pairs, in position order. */
export function waitlistOf(f: Fixture, sectionId: number): Array<[number, number]> {
  return f.db
    .prepare<[number], { user_id: number; position: number }>('SELECT user_id, position FROM waitlist WHERE section_id = ? ORDER BY position')
    .all(sectionId)
    .map((r) => [r.user_id, r.position]);
}

export function statusOf(f: Fixture, userId: number, sectionId: number): string | undefined {
  return f.db
    .prepare<[number, number], { status: string }>('SELECT status FROM enrollments WHERE user_id = ? AND section_id = ?')
    .get(userId, sectionId)?.status;
}

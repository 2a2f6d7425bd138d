import type Database from 'better-sqlite3';
import type { WaitlistRow } from './rows.js';
import { seatInCourse } from './sql.js';

const ENTRY_COLUMNS = 'w.user_id, w.section_id, w.position, w.date, u.username';
const ENTRY_FROM = 'FROM waitlist w JOIN users u ON u.id = w.user_id';

// What the domain reads of an entry: also whether its prerequisites were waived.
const ENTRY_SELECT = `SELECT ${ENTRY_COLUMNS}, w.prerequisites_waived ${ENTRY_FROM}`;

// What a listing shows: also the seat a promotion would give up, the
// student's section of the same course (a wait to change sections).
const LISTED_SELECT = `
  SELECT ${ENTRY_COLUMNS},
         coalesce(${seatInCourse('w.user_id', 'ws.course_id', 'w.section_id')}, 0) AS replacing_section_id
  ${ENTRY_FROM} JOIN sections ws ON ws.id = w.section_id`;

/**
 * Larger than any position (waitlist_capacity is at most 1000), so shifting
 * by it never lands on an occupied slot.
 */
const PARK_OFFSET = 1_000_000;

/** Statements on waitlists. Listings leave deleted sections out. */
export function waitlistStatements(db: Database.Database) {
  const get = db.prepare<[number, number], WaitlistRow>(`${ENTRY_SELECT} WHERE w.user_id = ? AND w.section_id = ?`);
  const inOrder = db.prepare<[number], WaitlistRow>(`${ENTRY_SELECT} WHERE w.section_id = ? ORDER BY w.position`);
  const bySection = db.prepare<[number, number, number], WaitlistRow>(
    `${LISTED_SELECT} WHERE w.section_id = ? AND w.position > ? ORDER BY w.position LIMIT ?`,
  );
  // instructor NULL means every section of the course.
  const byCourse = db.prepare<[number, number | null, number | null, number, number, number, number], WaitlistRow>(
    `${LISTED_SELECT}
     WHERE ws.course_id = ? AND ws.deleted = 0 AND (? IS NULL OR ws.instructor_id = ?)
       AND (w.section_id > ? OR (w.section_id = ? AND w.position > ?))
     ORDER BY w.section_id, w.position LIMIT ?`,
  );
  const byUser = db.prepare<[number, number, number], WaitlistRow>(
    `${LISTED_SELECT}
     WHERE w.user_id = ? AND ws.deleted = 0 AND w.section_id > ? ORDER BY w.section_id LIMIT ?`,
  );
  const sectionsOfUser = db.prepare<[number], { section_id: number }>(
    `SELECT w.section_id FROM waitlist w JOIN sections s ON s.id = w.section_id
     WHERE w.user_id = ? AND s.deleted = 0 ORDER BY w.section_id`,
  );
  const sectionsOfUserInCourse = db.prepare<[number, number], { section_id: number }>(
    `SELECT w.section_id FROM waitlist w JOIN sections s ON s.id = w.section_id
     WHERE w.user_id = ? AND s.course_id = ? ORDER BY w.section_id`,
  );
  const countForUser = db.prepare<[number], { n: number }>(
    `SELECT count(*) AS n FROM waitlist w JOIN sections s ON s.id = w.section_id
     WHERE w.user_id = ? AND s.deleted = 0`,
  );
  const lastPosition = db.prepare<[number], { p: number }>(
    'SELECT coalesce(max(position), 0) AS p FROM waitlist WHERE section_id = ?',
  );
  const insert = db.prepare<[number, number, number, number]>(
    'INSERT INTO waitlist (user_id, section_id, position, prerequisites_waived) VALUES (?, ?, ?, ?)',
  );
  const remove = db.prepare<[number, number]>('DELETE FROM waitlist WHERE user_id = ? AND section_id = ?');
  const clear = db.prepare<[number], { user_id: number }>('DELETE FROM waitlist WHERE section_id = ? RETURNING user_id');
  // SQLite checks UNIQUE (section_id, position) row by row during an UPDATE,
  // in no guaranteed order, so "position = position - 1" can collide with a
  // neighbour not yet moved. Two steps avoid it: park the tail far above every
  // position, then bring it back down one lower.
  const park = db.prepare<[number, number, number]>(
    'UPDATE waitlist SET position = position + ? WHERE section_id = ? AND position > ?',
  );
  const unpark = db.prepare<[number, number, number]>(
    'UPDATE waitlist SET position = position - ? WHERE section_id = ? AND position > ?',
  );

  return {
    getWaitlistEntry: (userId: number, sectionId: number): WaitlistRow | undefined => get.get(userId, sectionId),
    /** The whole waitlist of a section, first in line first. */
    sectionWaitlistInOrder: (sectionId: number): WaitlistRow[] => inOrder.all(sectionId),
    listSectionWaitlist: (sectionId: number, afterPosition: number, limit: number): WaitlistRow[] =>
      bySection.all(sectionId, afterPosition, limit),
    listCourseWaitlist: (
      courseId: number,
      instructorId: number | null,
      after: { sectionId: number; position: number },
      limit: number,
    ): WaitlistRow[] =>
      byCourse.all(courseId, instructorId, instructorId, after.sectionId, after.sectionId, after.position, limit),
    listUserWaitlist: (userId: number, afterSectionId: number, limit: number): WaitlistRow[] =>
      byUser.all(userId, afterSectionId, limit),
    /** The sections whose waitlist the student is on, not deleted, by id. */
    userWaitlistSections: (userId: number): number[] => sectionsOfUser.all(userId).map((r) => r.section_id),
    /** The sections of the course whose waitlist the student is on, by id. */
    userWaitlistSectionsOfCourse: (userId: number, courseId: number): number[] =>
      sectionsOfUserInCourse.all(userId, courseId).map((r) => r.section_id),
    /** Waitlists the student is on, in sections that are not deleted. */
    countUserWaitlists: (userId: number): number => countForUser.get(userId)!.n,
    /** Appends the student to the section's waitlist (the registrar waiving its prerequisites, or not) and returns their position. */
    append: (userId: number, sectionId: number, prerequisitesWaived: boolean): number => {
      const position = lastPosition.get(sectionId)!.p + 1;
      insert.run(userId, sectionId, position, prerequisitesWaived ? 1 : 0);
      return position;
    },
    /** Removes the entry and closes up the positions behind it. Returns whether it existed. */
    remove: (userId: number, sectionId: number): boolean => {
      const entry = get.get(userId, sectionId);
      if (!entry) return false;
      remove.run(userId, sectionId);
      park.run(PARK_OFFSET, sectionId, entry.position);
      unpark.run(PARK_OFFSET + 1, sectionId, PARK_OFFSET);
      return true;
    },
    /** Empties the section's waitlist; returns the students who were on it. */
    clearSection: (sectionId: number): number[] => clear.all(sectionId).map((r) => r.user_id),
  };
}

import type Database from 'better-sqlite3';
import { preparedOnFirstUse } from '../../../lib/sqlite.js';
import type { MeetingTime, NewSection, SectionFilter, SectionRow, SectionUpdate } from './rows.js';
import { currentEnrollment, meetsDuring } from './sql.js';

// The counts are columns kept current by triggers (migration 2). The course,
// department and instructor come along (each a primary-key lookup), so a
// listing shows what a student reads without a call per section.
const SECTION_SELECT = `
  SELECT s.id, s.course_id, c.code AS course_code, c.name AS course_name, c.credits AS course_credits,
         c.department_id, d.name AS department_name,
         s.classroom, s.capacity, s.waitlist_capacity,
         s.day, s.begin_time, s.end_time,
         s.instructor_id, i.username AS instructor_username,
         i.first_name AS instructor_first_name, i.last_name AS instructor_last_name,
         s.frozen, s.deleted, s.enrolled_count, s.waitlist_count
  FROM sections s
  JOIN courses c ON c.id = s.course_id
  JOIN departments d ON d.id = c.department_id
  JOIN users i ON i.id = s.instructor_id`;

/** The condition each catalogue filter adds, on its named parameter. */
const SECTION_FILTER_SQL: Record<keyof SectionFilter, string> = {
  courseId: 's.course_id = @courseId',
  departmentId: 'c.department_id = @departmentId',
  instructorId: 's.instructor_id = @instructorId',
  day: 's.day = @day',
  availability: `s.frozen = 0 AND (s.enrolled_count < s.capacity
    OR (@availability = 'open' AND s.waitlist_count < s.waitlist_capacity))`,
};
const SECTION_FILTERS = Object.keys(SECTION_FILTER_SQL) as Array<keyof SectionFilter>;

/** Statements on sections. Listings leave deleted sections out; getSection does not. */
export function sectionStatements(db: Database.Database) {
  const get = db.prepare<[number], SectionRow>(`${SECTION_SELECT} WHERE s.id = ?`);
  // A catalogue page in id order, with a condition for each filter given. One
  // statement per set of filters: a `(? IS NULL OR …)` term per filter instead
  // made the unfiltered page, the common one, 6-8 % slower (bench/HISTORY.md,
  // "Catalogue filters, and grades").
  const listQuery = preparedOnFirstUse<SectionRow>(db);
  const listInstructing = db.prepare<[number, number, number], SectionRow>(
    `${SECTION_SELECT} WHERE s.deleted = 0 AND s.instructor_id = ? AND s.id > ? ORDER BY s.id LIMIT ?`,
  );
  const listEnrolled = db.prepare<[number, number, number], SectionRow>(
    `${SECTION_SELECT}
     JOIN enrollments me ON me.section_id = s.id AND me.user_id = ? AND me.status = 'enrolled'
     WHERE s.deleted = 0 AND s.id > ? ORDER BY s.id LIMIT ?`,
  );
  const insert = db.prepare<[NewSection]>(
    `INSERT INTO sections (course_id, classroom, capacity, waitlist_capacity, day, begin_time, end_time, instructor_id)
     VALUES (@course_id, @classroom, @capacity, @waitlist_capacity, @day, @begin_time, @end_time, @instructor_id)`,
  );
  const update = db.prepare<[SectionUpdate & { id: number }]>(
    `UPDATE sections SET instructor_id = @instructor_id, capacity = @capacity,
       waitlist_capacity = @waitlist_capacity, classroom = @classroom, frozen = @frozen,
       day = @day, begin_time = @begin_time, end_time = @end_time
     WHERE id = @id`,
  );
  // A student enrolled in the section (ungraded) who is also enrolled in
  // another live section (ungraded) meeting on @day within [@begin, @end).
  const clashAt = db.prepare<[{ id: number; day: string; begin: string; end: string }], { user_id: number; section_id: number }>(
    `SELECT e.user_id, o.id AS section_id
     FROM enrollments e
     JOIN enrollments x ON x.user_id = e.user_id AND ${currentEnrollment('x')} AND x.section_id <> e.section_id
     JOIN sections o ON o.id = x.section_id
     WHERE e.section_id = @id AND ${currentEnrollment('e')}
       AND o.deleted = 0 AND ${meetsDuring('o', '@day', '@begin', '@end')}
     ORDER BY e.user_id, o.id LIMIT 1`,
  );
  // Another live section in the same classroom (any case) meeting on @day
  // within [@begin, @end). Section creation is rare: a scan is enough.
  const roomTaken = db.prepare<[{ id: number; classroom: string; day: string; begin: string; end: string }], { id: number }>(
    `SELECT s.id FROM sections s
     WHERE s.classroom = @classroom COLLATE NOCASE AND s.id <> @id AND s.deleted = 0
       AND ${meetsDuring('s', '@day', '@begin', '@end')}
     ORDER BY s.id LIMIT 1`,
  );
  // Another live section the instructor teaches, meeting on @day within
  // [@begin, @end): one person cannot teach two rooms at once.
  const instructorBusy = db.prepare<[{ id: number; instructor: number; day: string; begin: string; end: string }], { id: number }>(
    `SELECT s.id FROM sections s
     WHERE s.instructor_id = @instructor AND s.id <> @id AND s.deleted = 0
       AND ${meetsDuring('s', '@day', '@begin', '@end')}
     ORDER BY s.id LIMIT 1`,
  );
  const ofCourse = db.prepare<[number], { id: number }>('SELECT id FROM sections WHERE course_id = ? AND deleted = 0 ORDER BY id');
  const enrolledUngraded = db.prepare<[number], { user_id: number }>(
    `SELECT e.user_id FROM enrollments e WHERE e.section_id = ? AND ${currentEnrollment('e')} ORDER BY e.user_id`,
  );
  const markDeleted = db.prepare<[number]>('UPDATE sections SET deleted = 1 WHERE id = ?');
  // The first of the student's current sections that meets on the same day
  // as the target and overlaps it. A section of the same course is not in the
  // way: a student takes a course in one section, so a seat in the target
  // would replace it.
  const conflict = db.prepare<[number, number], { id: number }>(
    `SELECT o.id FROM sections t
     JOIN enrollments e ON e.user_id = ? AND ${currentEnrollment('e')}
     JOIN sections o ON o.id = e.section_id
     WHERE t.id = ? AND o.course_id <> t.course_id AND o.deleted = 0
       AND ${meetsDuring('o', 't.day', 't.begin_time', 't.end_time')}
     ORDER BY o.id LIMIT 1`,
  );

  return {
    getSection: (id: number): SectionRow | undefined => get.get(id),
    listSections: (filter: SectionFilter, afterId: number, limit: number): SectionRow[] => {
      const active = SECTION_FILTERS.filter((name) => filter[name] !== null);
      const conditions = active.map((name) => ` AND (${SECTION_FILTER_SQL[name]})`).join('');
      const params: Record<string, unknown> = { afterId, limit };
      for (const name of active) params[name] = filter[name];
      return listQuery(`${SECTION_SELECT} WHERE s.deleted = 0 AND s.id > @afterId${conditions} ORDER BY s.id LIMIT @limit`).all(params);
    },
    listInstructorSections: (instructorId: number, afterId: number, limit: number): SectionRow[] =>
      listInstructing.all(instructorId, afterId, limit),
    listStudentSections: (userId: number, afterId: number, limit: number): SectionRow[] =>
      listEnrolled.all(userId, afterId, limit),
    insertSection: (row: NewSection): number => Number(insert.run(row).lastInsertRowid),
    updateSection: (id: number, row: SectionUpdate): void => void update.run({ ...row, id }),
    markSectionDeleted: (id: number): void => void markDeleted.run(id),
    /** A student of the section who would clash elsewhere if it met at this time, and where. */
    findRosterClash: (sectionId: number, t: MeetingTime) =>
      clashAt.get({ id: sectionId, day: t.day, begin: t.begin_time, end: t.end_time }),
    /** A live section other than `exceptId` (0 for none) using the classroom at that time, if any. */
    findRoomClash: (classroom: string, t: MeetingTime, exceptId = 0): number | undefined =>
      roomTaken.get({ id: exceptId, classroom, day: t.day, begin: t.begin_time, end: t.end_time })?.id,
    /** A live section other than `exceptId` (0 for none) that the instructor teaches at that time, if any. */
    findInstructorClash: (instructorId: number, t: MeetingTime, exceptId = 0): number | undefined =>
      instructorBusy.get({ id: exceptId, instructor: instructorId, day: t.day, begin: t.begin_time, end: t.end_time })?.id,
    /** The live sections of the course, in id order. */
    liveSectionsOfCourse: (courseId: number): number[] => ofCourse.all(courseId).map((r) => r.id),
    /** The section's students who have no grade in it yet. */
    ungradedStudents: (sectionId: number): number[] => enrolledUngraded.all(sectionId).map((r) => r.user_id),
    /** Id of a section of another course the student is enrolled in, ungraded, that clashes with `sectionId`, if any. */
    findConflict: (userId: number, sectionId: number): number | undefined => conflict.get(userId, sectionId)?.id,
  };
}

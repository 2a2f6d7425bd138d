import type Database from 'better-sqlite3';
import type { EnrollmentRow, EnrollmentStatus, TranscriptRow } from './rows.js';
import { currentEnrollment, seatInCourse } from './sql.js';

const ENROLLMENT_SELECT = `
  SELECT e.user_id, e.section_id, e.status, e.grade, e.date, u.username, s.course_id, c.code AS course_code
  FROM enrollments e
  JOIN users u ON u.id = e.user_id
  JOIN sections s ON s.id = e.section_id
  JOIN courses c ON c.id = s.course_id`;

/** Statements on enrollments. Listings leave deleted sections out. */
export function enrollmentStatements(db: Database.Database) {
  const get = db.prepare<[number, number], EnrollmentRow>(`${ENROLLMENT_SELECT} WHERE e.user_id = ? AND e.section_id = ?`);
  // status NULL means both.
  const bySection = db.prepare<[number, EnrollmentStatus | null, EnrollmentStatus | null, number, number], EnrollmentRow>(
    `${ENROLLMENT_SELECT}
     WHERE e.section_id = ? AND (? IS NULL OR e.status = ?) AND e.user_id > ? AND s.deleted = 0
     ORDER BY e.user_id LIMIT ?`,
  );
  const byUser = db.prepare<[number, EnrollmentStatus | null, EnrollmentStatus | null, number, number], EnrollmentRow>(
    `${ENROLLMENT_SELECT}
     WHERE e.user_id = ? AND (? IS NULL OR e.status = ?) AND e.section_id > ? AND s.deleted = 0
     ORDER BY e.section_id LIMIT ?`,
  );
  // A dropped enrollment is re-activated in place: the key is (user, section).
  const enroll = db.prepare<[number, number]>(
    `INSERT INTO enrollments (user_id, section_id, status) VALUES (?, ?, 'enrolled')
     ON CONFLICT (user_id, section_id) DO UPDATE SET status = 'enrolled', grade = NULL, date = excluded.date`,
  );
  // A graded enrollment is never dropped: the caller tells why from getEnrollment.
  const drop = db.prepare<[number, number]>(
    `UPDATE enrollments SET status = 'dropped'
     WHERE user_id = ? AND section_id = ? AND status = 'enrolled' AND grade IS NULL`,
  );
  const setGrade = db.prepare<[string | null, number, number]>(
    `UPDATE enrollments SET grade = ? WHERE user_id = ? AND section_id = ? AND status = 'enrolled'`,
  );
  const graded = db.prepare<[number], { user_id: number }>(
    `SELECT user_id FROM enrollments WHERE section_id = ? AND grade IS NOT NULL ORDER BY user_id LIMIT 1`,
  );
  // A student's load: the credits of their current enrollments.
  const load = db.prepare<[number], { credits: number }>(
    `SELECT coalesce(sum(c.credits), 0) AS credits
     FROM enrollments e JOIN sections s ON s.id = e.section_id JOIN courses c ON c.id = s.course_id
     WHERE e.user_id = ? AND ${currentEnrollment('e')}`,
  );
  // The students taking the course now (a current enrollment in any of its sections).
  const courseStudents = db.prepare<[number], { user_id: number }>(
    `SELECT DISTINCT e.user_id FROM sections s JOIN enrollments e ON e.section_id = s.id
     WHERE s.course_id = ? AND ${currentEnrollment('e')} ORDER BY e.user_id`,
  );
  // The first of them whose load, were the course worth @credits, would pass @max.
  const overLoad = db.prepare<[{ course: number; credits: number; max: number }], { user_id: number; credits: number }>(
    `SELECT t.user_id, t.credits FROM (
       SELECT e.user_id, (
         SELECT sum(CASE WHEN s2.course_id = @course THEN @credits ELSE c2.credits END)
         FROM enrollments x JOIN sections s2 ON s2.id = x.section_id JOIN courses c2 ON c2.id = s2.course_id
         WHERE x.user_id = e.user_id AND ${currentEnrollment('x')}
       ) AS credits
       FROM sections s JOIN enrollments e ON e.section_id = s.id
       WHERE s.course_id = @course AND ${currentEnrollment('e')}
     ) AS t
     WHERE t.credits > @max ORDER BY t.user_id LIMIT 1`,
  );
  const otherSeat = db.prepare<[number, number, number], { section_id: number | null }>(
    `SELECT ${seatInCourse('?', '?', '?')} AS section_id`,
  );
  // An attempt is repeated when the student took the course again later and
  // that attempt has a final grade: an incomplete ("I") replaces nothing until
  // it becomes a grade. "Later" is by the event that gave the student the seat
  // (enrolled or promoted; ids never go back), since dates tie within a second.
  // Seats older than the events table (migration 7) have none and come first,
  // by date.
  const transcript = db.prepare<[number], TranscriptRow>(
    `SELECT section_id, course_id, course_code, course_name, credits, grade,
            count(NULLIF(grade, 'I')) OVER (
              PARTITION BY course_id ORDER BY seated_by DESC NULLS LAST, date DESC, section_id DESC
              ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
            ) > 0 AS repeated
     FROM (
       SELECT e.section_id, s.course_id, c.code AS course_code, c.name AS course_name, c.credits, e.grade, e.date,
              (SELECT max(v.id) FROM enrollment_events v
               WHERE v.section_id = e.section_id AND v.user_id = e.user_id AND v.action IN ('enrolled', 'promoted')) AS seated_by
       FROM enrollments e JOIN sections s ON s.id = e.section_id JOIN courses c ON c.id = s.course_id
       WHERE e.user_id = ? AND e.status = 'enrolled' AND e.grade IS NOT NULL
     )
     ORDER BY section_id`,
  );
  const dropAll = db.prepare<[number], { user_id: number }>(
    `UPDATE enrollments SET status = 'dropped' WHERE section_id = ? AND status = 'enrolled' RETURNING user_id`,
  );

  return {
    getEnrollment: (userId: number, sectionId: number): EnrollmentRow | undefined => get.get(userId, sectionId),
    listSectionEnrollments: (sectionId: number, status: EnrollmentStatus | null, afterUserId: number, limit: number) =>
      bySection.all(sectionId, status, status, afterUserId, limit),
    listUserEnrollments: (userId: number, status: EnrollmentStatus | null, afterSectionId: number, limit: number) =>
      byUser.all(userId, status, status, afterSectionId, limit),
    enroll: (userId: number, sectionId: number): void => void enroll.run(userId, sectionId),
    /** Returns whether an active, ungraded enrollment was dropped. */
    drop: (userId: number, sectionId: number): boolean => drop.run(userId, sectionId).changes === 1,
    /** Sets (or, with null, clears) the grade of an active enrollment; returns whether there was one. */
    setGrade: (userId: number, sectionId: number, grade: string | null): boolean =>
      setGrade.run(grade, userId, sectionId).changes === 1,
    /** A student with a grade in the section, if any. */
    firstGraded: (sectionId: number): number | undefined => graded.get(sectionId)?.user_id,
    /** The user's graded enrollments, in section order, each marked when a later attempt at its course repeats it. */
    listGraded: (userId: number): TranscriptRow[] => transcript.all(userId),
    /** The credits of the user's enrolled, ungraded sections. */
    creditLoad: (userId: number): number => load.get(userId)!.credits,
    /** The section, other than `exceptSectionId`, in which the student takes the course now, if any. */
    otherSeatInCourse: (userId: number, courseId: number, exceptSectionId: number): number | undefined =>
      otherSeat.get(userId, courseId, exceptSectionId)!.section_id ?? undefined,
    /** The students with a current enrollment in a section of the course, in id order. */
    currentStudentsOfCourse: (courseId: number): number[] => courseStudents.all(courseId).map((r) => r.user_id),
    /** The first student taking the course whose load would pass `max` were it worth `credits`, and that load. */
    firstOverLoadAt: (courseId: number, credits: number, max: number): { user_id: number; credits: number } | undefined =>
      overLoad.get({ course: courseId, credits, max }),
    /** Drops every active enrollment of the section; returns the students dropped. */
    dropAllInSection: (sectionId: number): number[] => dropAll.all(sectionId).map((r) => r.user_id),
  };
}

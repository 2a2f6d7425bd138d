import type Database from 'better-sqlite3';
import { COURSE_COLUMNS } from './catalogue.js';
import type { CourseRow } from './rows.js';

/** Course rows, each joined to a prerequisite row `p` on its `side`: the required course or the requiring one. */
const coursesOn = (side: 'prerequisite_id' | 'course_id') => `
  SELECT ${COURSE_COLUMNS}
  FROM course_prerequisites p
  JOIN courses c ON c.id = p.${side}
  JOIN departments d ON d.id = c.department_id`;

/** Statements on which courses require which. */
export function prerequisiteStatements(db: Database.Database) {
  const list = db.prepare<[number], CourseRow>(`${coursesOn('prerequisite_id')} WHERE p.course_id = ? ORDER BY c.code`);
  const clear = db.prepare<[number]>('DELETE FROM course_prerequisites WHERE course_id = ?');
  const add = db.prepare<[number, number]>('INSERT INTO course_prerequisites (course_id, prerequisite_id) VALUES (?, ?)');
  const requiredBy = db.prepare<[number], CourseRow>(`${coursesOn('course_id')} WHERE p.prerequisite_id = ? ORDER BY c.code LIMIT 1`);
  // Everything the given courses require, directly or through others, as
  // stored now; UNION (not UNION ALL) stops at courses already reached.
  const reachable = db.prepare<[string, number], { one: 1 }>(`
    WITH RECURSIVE required (id) AS (
      SELECT p.prerequisite_id FROM course_prerequisites p
      WHERE p.course_id IN (SELECT value FROM json_each(?))
      UNION
      SELECT p.prerequisite_id FROM course_prerequisites p JOIN required r ON p.course_id = r.id
    )
    SELECT 1 AS one FROM required WHERE id = ? LIMIT 1`);
  // A prerequisite counts as passed with an enrolled, graded enrollment in
  // any section of it whose grade is not one of the JSON array given (the
  // domain's NOT_PASSING_GRADES). A section with grades cannot be deleted.
  const missing = db.prepare<[number, number, string], CourseRow>(`
    ${coursesOn('prerequisite_id')}
    WHERE p.course_id = ?
      AND NOT EXISTS (
        SELECT 1 FROM sections s
        JOIN enrollments e ON e.section_id = s.id
        WHERE s.course_id = p.prerequisite_id AND e.user_id = ? AND e.status = 'enrolled'
          AND e.grade IS NOT NULL AND e.grade NOT IN (SELECT value FROM json_each(?))
      )
    ORDER BY c.code LIMIT 1`);

  return {
    /** The courses `courseId` requires, in code order. */
    list: (courseId: number): CourseRow[] => list.all(courseId),
    /** Replaces the courses `courseId` requires. */
    replace: (courseId: number, prerequisiteIds: readonly number[]): void => {
      clear.run(courseId);
      for (const id of prerequisiteIds) add.run(courseId, id);
    },
    /** A course that requires `courseId` (the first by code), if any. */
    firstRequiring: (courseId: number): CourseRow | undefined => requiredBy.get(courseId),
    /** Whether `target` is required, directly or not, by one of `courseIds`. */
    isRequiredThrough: (courseIds: readonly number[], target: number): boolean =>
      reachable.get(JSON.stringify(courseIds), target) !== undefined,
    /** The first prerequisite of `courseId` (by code) that `userId` has no grade in but `notPassing` ones. */
    firstMissing: (userId: number, courseId: number, notPassing: readonly string[]): CourseRow | undefined =>
      missing.get(courseId, userId, JSON.stringify(notPassing)),
  };
}

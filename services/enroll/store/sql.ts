/** SQL fragments that several of the store's statements share, so that each rule is written once. */

/**
 * SQL: enrollment `e` is one the student is taking now, enrolled and not yet
 * graded (a grade ends a course). Such enrollments hold the student's hours
 * (schedule clashes) and credits (their load).
 */
export const currentEnrollment = (e: string): string => `${e}.status = 'enrolled' AND ${e}.grade IS NULL`;

/**
 * SQL: section `s` meets on `day` and overlaps [`begin`, `end`), times as
 * zero-padded 'HH:MM' text; back to back is no overlap.
 */
export const meetsDuring = (s: string, day: string, begin: string, end: string): string =>
  `${s}.day = ${day} AND ${s}.begin_time < ${end} AND ${begin} < ${s}.end_time`;

/**
 * SQL: the section, other than section `except`, in which student `user`
 * takes course `course` now (a current enrollment in a live section), or NULL.
 * A student takes a course in one section at a time.
 */
export const seatInCourse = (user: string, course: string, except: string): string =>
  `(SELECT sc_e.section_id FROM enrollments sc_e JOIN sections sc_s ON sc_s.id = sc_e.section_id
    WHERE sc_e.user_id = ${user} AND ${currentEnrollment('sc_e')} AND sc_s.course_id = ${course}
      AND sc_s.deleted = 0 AND sc_e.section_id <> ${except}
    ORDER BY sc_e.section_id LIMIT 1)`;

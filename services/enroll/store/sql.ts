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

/**
 * The random walk's world (invariants.test.ts): who acts, the limits the
 * README states and the length of a hold's reason (written out, not
 * imported, so the product's constants are checked too), the times, rooms,
 * grades, credits and reasons for holds the steps draw from, and the dice
 * they draw with.
 */
import { Status } from '../../../../lib/errors.js';
import type { Actor } from '../actor.js';

// The README's limits, written out here rather than imported, so that the
// product's constants are checked too.
export const MAX_CREDITS = 18;
export const MAX_WAITLISTS = 3;
export const NOT_PASSING = ['F', 'NP', 'I'];
/** The longest reason a hold may give: holds.ts's limit, which the README does not state, written out likewise. */
export const MAX_HOLD_REASON = 200;

/** The statuses a refusal may have: the caller's mistake or the state's, never the service's. */
export const CLIENT_STATUSES: readonly Status[] = [
  Status.INVALID_ARGUMENT,
  Status.FAILED_PRECONDITION,
  Status.NOT_FOUND,
  Status.ALREADY_EXISTS,
  Status.PERMISSION_DENIED,
  Status.OUT_OF_RANGE,
];

export const STUDENT_IDS = Array.from({ length: 20 }, (_, i) => 10 + i);
/** Students 10..15 act most: they hold several seats and lines at once, so that clashes and full loads keep them waiting. */
export const BUSY_STUDENT_IDS = STUDENT_IDS.slice(0, 6);
/** Two instructors besides the fixture's, added to the directory by `buildWorld`. */
export const NEW_INSTRUCTOR_IDS = [30, 31];
export const instructorActor = (id: number): Actor => ({ userId: id, username: `i${id}`, roles: ['instructor'] });
/**
 * Meeting times. Each on Monday and Tuesday overlaps the one before it (the
 * ones two apart on Monday are back to back); Wednesday's and Thursday's
 * leave room for every section to find a classroom and an instructor.
 */
export const SLOTS = [
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
export const ROOMS = ['R1', 'R2', 'R3', 'R4', 'R5', 'r2'];
/** Passing and not (F, NP, I). */
export const GRADES = ['A', 'B+', 'C-', 'P', 'F', 'NP', 'I'];
export const CREDITS = [0, 2, 3, 5, 6, 9, 12];
/** Why the registrar places a hold. */
export const HOLD_REASONS = ['tuition unpaid', 'missing immunization form', 'advising', 'library fines'];

export { Dice } from '../../../../test/support/seeded-random.js';

/** A student's transcript: graded courses, credits and the grade point average. */
import type { GetUserTranscriptRequest } from '../../../gen/ts/enroll/v1/GetUserTranscriptRequest.js';
import type { Transcript__Output } from '../../../gen/ts/enroll/v1/Transcript.js';
import type { TranscriptRow } from '../store/rows.js';
import { requireSelfOrRegistrar, type Actor } from './actor.js';
import type { DomainContext } from './context.js';
import { requireListedUser } from './lookups.js';
import { enrollRead } from './operations.js';
import { NOT_PASSING_GRADES, requireId } from './validate.js';

/**
 * Grade points of the letter grades, in tenths (A- is 3.7), so that sums are
 * exact and the average rounds as written: half up, to two decimals. P, NP
 * and I carry none.
 */
const GRADE_POINT_TENTHS: Readonly<Record<string, number>> = {
  'A+': 40, A: 40, 'A-': 37,
  'B+': 33, B: 30, 'B-': 27,
  'C+': 23, C: 20, 'C-': 17,
  'D+': 13, D: 10, 'D-': 7,
  F: 0,
};

/**
 * Totals over the graded rows; `inProgress` is the student's current load. A
 * course counts once, by its latest attempt with a final grade: a repeated one
 * stays listed but leaves the totals (grade replacement). The store decides
 * which attempts are repeated.
 */
export function summarize(userId: number, rows: TranscriptRow[], inProgress: number): Transcript__Output {
  let attempted = 0;
  let earned = 0;
  let pointTenths = 0;
  for (const r of rows) {
    if (r.repeated) continue;
    if (r.grade in GRADE_POINT_TENTHS) {
      attempted += r.credits;
      pointTenths += GRADE_POINT_TENTHS[r.grade]! * r.credits;
    }
    if (!NOT_PASSING_GRADES.includes(r.grade)) earned += r.credits;
  }
  return {
    user_id: userId,
    entries: rows.map((r) => ({ ...r, repeated: r.repeated === 1 })),
    credits_attempted: attempted,
    credits_earned: earned,
    credits_in_progress: inProgress,
    // Hundredths: pointTenths × 10 / attempted, a quotient of integers, so a
    // half is exactly a half.
    gpa: attempted > 0 ? Math.round((pointTenths * 10) / attempted) / 100 : undefined,
  };
}

/** The user themself or the registrar. */
export async function getUserTranscript(ctx: DomainContext, actor: Actor, req: GetUserTranscriptRequest): Promise<Transcript__Output> {
  const userId = requireId('user_id', req.user_id);
  requireSelfOrRegistrar(actor, userId);
  return ctx.query(readTranscript, { actor, userId });
}

const readTranscript = enrollRead('getUserTranscript', (store, { actor, userId }: { actor: Actor; userId: number }) => {
  requireListedUser(actor, store, userId);
  return summarize(userId, store.enrollments.listGraded(userId), store.enrollments.creditLoad(userId));
});

import type Database from 'better-sqlite3';
import type { EnrollmentAction, EnrollmentEventRow } from './rows.js';

const EVENT_COLUMNS = 'id, user_id, section_id, action, grade, actor_id, at';

/** The enrollment events: appended as changes are made, listed newest first. */
export function eventStatements(db: Database.Database) {
  const insert = db.prepare<[number, number, EnrollmentAction, string | null, number | null]>(
    'INSERT INTO enrollment_events (user_id, section_id, action, grade, actor_id) VALUES (?, ?, ?, ?, ?)',
  );
  const byUser = db.prepare<[number, number, number], EnrollmentEventRow>(
    `SELECT ${EVENT_COLUMNS} FROM enrollment_events WHERE user_id = ? AND id < ? ORDER BY id DESC LIMIT ?`,
  );
  const bySection = db.prepare<[number, number, number], EnrollmentEventRow>(
    `SELECT ${EVENT_COLUMNS} FROM enrollment_events WHERE section_id = ? AND id < ? ORDER BY id DESC LIMIT ?`,
  );

  return {
    /** `actorId` null: the service did it on its own (a promotion); `grade` only for 'graded'. */
    record: (userId: number, sectionId: number, action: EnrollmentAction, actorId: number | null, grade: string | null = null): void =>
      void insert.run(userId, sectionId, action, grade, actorId),
    /** The user's events with ids below `beforeId`, newest first. */
    listUserEvents: (userId: number, beforeId: number, limit: number): EnrollmentEventRow[] => byUser.all(userId, beforeId, limit),
    /** The section's events with ids below `beforeId`, newest first. */
    listSectionEvents: (sectionId: number, beforeId: number, limit: number): EnrollmentEventRow[] =>
      bySection.all(sectionId, beforeId, limit),
  };
}

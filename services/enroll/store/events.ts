import type Database from 'better-sqlite3';
import type { EnrollmentAction, EnrollmentEventRow } from './rows.js';

/** The columns of event `e`. */
const EVENT_COLUMNS = 'e.id, e.user_id, e.section_id, e.action, e.grade, e.actor_id, e.at';

/** The enrollment events: appended as changes are made, listed newest first. */
export function eventStatements(db: Database.Database) {
  const insert = db.prepare<[number, number, EnrollmentAction, string | null, number | null]>(
    'INSERT INTO enrollment_events (user_id, section_id, action, grade, actor_id) VALUES (?, ?, ?, ?, ?)',
  );
  // Nothing new to write once the user has an event in the section (migration 8).
  const touch = db.prepare<[number, number]>('INSERT OR IGNORE INTO user_event_sections (user_id, section_id) VALUES (?, ?)');
  // Each of the user's sections read from its index, which carries the user id.
  const byUser = db.prepare<{ user: number; before: number; limit: number }, EnrollmentEventRow>(
    `SELECT ${EVENT_COLUMNS}
     FROM user_event_sections us JOIN enrollment_events e ON e.section_id = us.section_id AND e.user_id = us.user_id
     WHERE us.user_id = @user AND e.id < @before
     ORDER BY e.id DESC LIMIT @limit`,
  );
  const bySection = db.prepare<[number, number, number], EnrollmentEventRow>(
    `SELECT ${EVENT_COLUMNS} FROM enrollment_events e WHERE e.section_id = ? AND e.id < ? ORDER BY e.id DESC LIMIT ?`,
  );

  return {
    /** `actorId` null: the service did it on its own (a promotion); `grade` only for 'graded'. */
    record: (userId: number, sectionId: number, action: EnrollmentAction, actorId: number | null, grade: string | null = null): void => {
      insert.run(userId, sectionId, action, grade, actorId);
      touch.run(userId, sectionId);
    },
    /** The user's events with ids below `beforeId`, newest first. */
    listUserEvents: (userId: number, beforeId: number, limit: number): EnrollmentEventRow[] =>
      byUser.all({ user: userId, before: beforeId, limit }),
    /** The section's events with ids below `beforeId`, newest first. */
    listSectionEvents: (sectionId: number, beforeId: number, limit: number): EnrollmentEventRow[] =>
      bySection.all(sectionId, beforeId, limit),
  };
}

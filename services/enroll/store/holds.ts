import type Database from 'better-sqlite3';
import type { HoldRow } from './rows.js';

/** Statements on registration holds (migration 10). */
export function holdStatements(db: Database.Database) {
  const active = db.prepare<[number], HoldRow>('SELECT * FROM registration_holds WHERE user_id = ? AND released_at IS NULL ORDER BY id');
  const firstActive = db.prepare<[number], HoldRow>('SELECT * FROM registration_holds WHERE user_id = ? AND released_at IS NULL ORDER BY id LIMIT 1');
  const get = db.prepare<[number], HoldRow>('SELECT * FROM registration_holds WHERE id = ?');
  const insert = db.prepare<[number, string, number, string]>(
    'INSERT INTO registration_holds (user_id, reason, placed_by, placed_at) VALUES (?, ?, ?, ?)',
  );
  const release = db.prepare<[number, string, number]>(
    'UPDATE registration_holds SET released_by = ?, released_at = ? WHERE id = ? AND released_at IS NULL',
  );
  return {
    /** The user's active holds, oldest first. */
    active: (userId: number): HoldRow[] => active.all(userId),
    /** The user's oldest active hold, if any: what stops their adds and promotions. */
    firstActive: (userId: number): HoldRow | undefined => firstActive.get(userId),
    get: (id: number): HoldRow | undefined => get.get(id),
    place: (userId: number, reason: string, by: number, at: string): number => Number(insert.run(userId, reason, by, at).lastInsertRowid),
    /** False when the hold was already released. */
    release: (id: number, by: number, at: string): boolean => release.run(by, at, id).changes === 1,
  };
}

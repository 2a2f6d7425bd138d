import type Database from 'better-sqlite3';
import type { UserRow } from './rows.js';

/** Statements on the local copy of the users. */
export function userStatements(db: Database.Database) {
  const get = db.prepare<[number], UserRow>('SELECT id, username, first_name, last_name, roles FROM users WHERE id = ?');
  const list = db.prepare<[number, number], UserRow>(
    'SELECT id, username, first_name, last_name, roles FROM users WHERE id > ? ORDER BY id LIMIT ?',
  );
  const maxId = db.prepare<[], { max_id: number }>('SELECT coalesce(max(id), 0) AS max_id FROM users');
  // DO NOTHING: two syncs racing may both fetch the same users.
  const insert = db.prepare<[UserRow]>(
    `INSERT INTO users (id, username, first_name, last_name, roles)
     VALUES (@id, @username, @first_name, @last_name, @roles)
     ON CONFLICT (id) DO NOTHING`,
  );

  return {
    getUser: (id: number): UserRow | undefined => get.get(id),
    listUsers: (afterId: number, limit: number): UserRow[] => list.all(afterId, limit),
    maxUserId: (): number => maxId.get()!.max_id,
    /** Returns whether the row was new. */
    insertUser: (row: UserRow): boolean => insert.run(row).changes === 1,
  };
}

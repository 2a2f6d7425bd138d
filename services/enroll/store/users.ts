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

  // The username never changes (the auth service has no way to).
  const update = db.prepare<[UserRow]>(
    'UPDATE users SET first_name = @first_name, last_name = @last_name, roles = @roles WHERE id = @id',
  );
  const changeSeq = db.prepare<[], { seq: number }>('SELECT seq FROM user_sync WHERE id = 1');
  // Never backwards: two syncs racing may apply the same changes.
  const setChangeSeq = db.prepare<[number]>('UPDATE user_sync SET seq = max(seq, ?) WHERE id = 1');

  return {
    getUser: (id: number): UserRow | undefined => get.get(id),
    /** Names and roles as the auth service has them now; returns whether the user is in the copy. */
    updateUser: (row: UserRow): boolean => update.run(row).changes === 1,
    /** The auth service's changes to users up to this seq are applied here. */
    userChangeSeq: (): number => changeSeq.get()!.seq,
    setUserChangeSeq: (seq: number): void => void setChangeSeq.run(seq),
    listUsers: (afterId: number, limit: number): UserRow[] => list.all(afterId, limit),
    maxUserId: (): number => maxId.get()!.max_id,
    /** Returns whether the row was new. */
    insertUser: (row: UserRow): boolean => insert.run(row).changes === 1,
  };
}

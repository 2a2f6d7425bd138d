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

  const setRoles = db.prepare<[string, number]>('UPDATE users SET roles = ? WHERE id = ?');
  const roleSeq = db.prepare<[], { seq: number }>('SELECT seq FROM role_sync WHERE id = 1');
  // Never backwards: two syncs racing may apply the same changes.
  const setRoleSeq = db.prepare<[number]>('UPDATE role_sync SET seq = max(seq, ?) WHERE id = 1');

  return {
    getUser: (id: number): UserRow | undefined => get.get(id),
    /** Returns whether the user is in the copy. */
    setRoles: (id: number, roles: string): boolean => setRoles.run(roles, id).changes === 1,
    /** The auth service's role changes up to this seq are applied here. */
    roleSyncSeq: (): number => roleSeq.get()!.seq,
    setRoleSyncSeq: (seq: number): void => void setRoleSeq.run(seq),
    listUsers: (afterId: number, limit: number): UserRow[] => list.all(afterId, limit),
    maxUserId: (): number => maxId.get()!.max_id,
    /** Returns whether the row was new. */
    insertUser: (row: UserRow): boolean => insert.run(row).changes === 1,
  };
}

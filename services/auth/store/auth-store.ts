/**
 * Prepared statements of the auth database, as closures. Statements are
 * prepared once per connection (cached in a WeakMap keyed by the Database), so
 * the read handle and the write handle each get their own set.
 *
 * The store does no validation and no policy: that is the domain's job. It
 * never returns password hashes except from `userByUsername`, which login needs.
 */
import type { Database } from 'better-sqlite3';
import { preparedOnFirstUse } from '../../../lib/sqlite.js';

export interface UserRow {
  id: number;
  username: string;
  password_hash: string;
  email: string | null;
  first_name: string;
  last_name: string;
  /** JSON array text */
  roles: string;
  date_registered: string | null;
  last_login: string | null;
}

export type PublicUserRow = Omit<UserRow, 'password_hash'>;

export interface KeyRow {
  kid: number;
  key: Buffer;
  exp: number;
  key_id: string;
  public_jwk: string;
  created_at: number;
  sign_from: number;
  sign_until: number;
}

/** A key's schedule without its material. */
export type KeyTimesRow = Omit<KeyRow, 'key' | 'public_jwk'>;

export interface NewKey {
  key: Buffer;
  key_id: string;
  public_jwk: string;
  created_at: number;
  sign_from: number;
  sign_until: number;
  exp: number;
}

/** What registering a user stores. */
export type NewUser = Omit<UserRow, 'id' | 'last_login' | 'date_registered'> & { date_registered: string };

export interface AuthLogEntry {
  request_ip: string;
  request_timestamp: string;
  user_id: number | null;
  outcome: string;
  method: string;
  username: string | null;
}

export interface AuthLogRow extends AuthLogEntry {
  id: number;
}

/** What a listing of auth_logs keeps; null: any. */
export interface AuthLogFilter {
  userId: number | null;
  /** Compared case-insensitively (an index on username COLLATE NOCASE serves it). */
  username: string | null;
  outcome: string | null;
  method: string | null;
}

const AUTH_LOG_FILTERS = [
  ['userId', 'user_id = ?'],
  ['username', 'username = ? COLLATE NOCASE'],
  ['outcome', 'outcome = ?'],
  ['method', 'method = ?'],
] as const;

/** A numbered change, with the user as they are now (not as the change left them). */
export type UserChangeRow = PublicUserRow & { seq: number };

export interface ProfileUpdate {
  first_name: string;
  last_name: string;
  email: string | null;
}

export interface LoginFailureRow {
  username: string;
  failures: number;
  /** Unix seconds of the window's first failure. */
  window_start: number;
  last_failure: number;
}

export interface RefreshTokenRow {
  id: number;
  token_hash: string;
  user_id: number;
  family_id: string;
  created_at: number;
  expires_at: number;
  used_at: number | null;
  replaced_by: number | null;
  revoked: number;
}

export type NewRefreshToken = Pick<RefreshTokenRow, 'token_hash' | 'user_id' | 'family_id' | 'created_at' | 'expires_at'>;

const USER_COLUMNS = 'id, username, email, first_name, last_name, roles, date_registered, last_login';

function build(db: Database) {
  const userByUsername = db.prepare<[string], UserRow>(
    `SELECT ${USER_COLUMNS}, password_hash FROM users WHERE username = ?`,
  );
  const userById = db.prepare<[number], PublicUserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE id = ?`);
  const userWithHashById = db.prepare<[number], UserRow>(`SELECT ${USER_COLUMNS}, password_hash FROM users WHERE id = ?`);
  const replacePasswordHash = db.prepare<[string, number, string]>(
    'UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = ?',
  );
  const userIdByEmail = db.prepare<[string], { id: number }>('SELECT id FROM users WHERE email = ?');
  const usersAfter = db.prepare<[number, number], PublicUserRow>(
    `SELECT ${USER_COLUMNS} FROM users WHERE id > ? ORDER BY id LIMIT ?`,
  );
  const insertUser = db.prepare<[NewUser]>(
    `INSERT INTO users (username, password_hash, email, first_name, last_name, roles, date_registered)
     VALUES (@username, @password_hash, @email, @first_name, @last_name, @roles, @date_registered)`,
  );
  const setLastLogin = db.prepare<[string, number]>('UPDATE users SET last_login = ? WHERE id = ?');
  const setRoles = db.prepare<[string, number]>('UPDATE users SET roles = ? WHERE id = ?');
  const setProfile = db.prepare<[ProfileUpdate & { id: number }]>(
    'UPDATE users SET first_name = @first_name, last_name = @last_name, email = @email WHERE id = @id',
  );
  const insertUserChange = db.prepare<[number, string, number]>(
    'INSERT INTO user_changes (user_id, changed_at, changed_by) VALUES (?, ?, ?)',
  );
  const userChangesAfter = db.prepare<[number, number], UserChangeRow>(
    `SELECT uc.seq, u.id, u.username, u.email, u.first_name, u.last_name, u.roles, u.date_registered, u.last_login
     FROM user_changes uc JOIN users u ON u.id = uc.user_id
     WHERE uc.seq > ? ORDER BY uc.seq LIMIT ?`,
  );

  const insertAuthLog = db.prepare<[AuthLogEntry]>(
    `INSERT INTO auth_logs (request_ip, request_timestamp, user_id, outcome, method, username)
     VALUES (@request_ip, @request_timestamp, @user_id, @outcome, @method, @username)`,
  );

  // Retention: the oldest rows go first, and only while every row before them goes too (a
  // prefix of the table in id order, looked for among its first @max rows). A refresh token
  // is only ever referenced (replaced_by) by an older one of its chain, so a prefix never
  // leaves a reference behind; and a row out of time order holds the rest back rather than
  // letting a newer one go first.
  const pruneAuthLogs = db.prepare<{ before: string; max: number }>(
    `WITH head AS (SELECT id, request_timestamp AS at FROM auth_logs ORDER BY id LIMIT @max)
     DELETE FROM auth_logs WHERE id IN (SELECT id FROM head)
       AND id < COALESCE((SELECT MIN(id) FROM head WHERE at >= @before), 9223372036854775807)`,
  );
  const pruneRefreshTokens = db.prepare<{ before: number; max: number }>(
    `WITH head AS (SELECT id, expires_at FROM refresh_tokens ORDER BY id LIMIT @max)
     DELETE FROM refresh_tokens WHERE id IN (SELECT id FROM head)
       AND id < COALESCE((SELECT MIN(id) FROM head WHERE expires_at >= @before), 9223372036854775807)`,
  );

  const loginFailures = db.prepare<[string], LoginFailureRow>('SELECT * FROM login_failures WHERE username = ?');
  // A failure in the current window adds to it; one after the window starts a new one.
  const addLoginFailure = db.prepare<{ username: string; now: number; windowStart: number }>(
    `INSERT INTO login_failures (username, failures, window_start, last_failure) VALUES (@username, 1, @now, @now)
     ON CONFLICT (username) DO UPDATE SET
       failures = CASE WHEN window_start > @windowStart THEN failures + 1 ELSE 1 END,
       window_start = CASE WHEN window_start > @windowStart THEN window_start ELSE @now END,
       last_failure = @now`,
  );
  const purgeLoginFailures = db.prepare<[number, number]>(
    'DELETE FROM login_failures WHERE rowid IN (SELECT rowid FROM login_failures WHERE window_start <= ? LIMIT ?)',
  );
  const clearLoginFailures = db.prepare<[string]>('DELETE FROM login_failures WHERE username = ?');

  // One statement per combination of filters present (at most 32), so that
  // SQLite plans each with the index it can use.
  const authLogQuery = preparedOnFirstUse<AuthLogRow>(db);
  const authLogs = (beforeId: number | null, filter: AuthLogFilter, limit: number): AuthLogRow[] => {
    const where: string[] = [];
    const params: unknown[] = [];
    if (beforeId !== null) {
      where.push('id < ?');
      params.push(beforeId);
    }
    for (const [key, condition] of AUTH_LOG_FILTERS) {
      if (filter[key] === null) continue;
      where.push(condition);
      params.push(filter[key]);
    }
    const sql =
      'SELECT id, request_ip, request_timestamp, user_id, outcome, method, username FROM auth_logs' +
      (where.length > 0 ? ` WHERE ${where.join(' AND ')}` : '') +
      ' ORDER BY id DESC LIMIT ?';
    return authLogQuery(sql).all(...params, limit);
  };

  const keyTimes = db.prepare<[], KeyTimesRow>(
    'SELECT kid, exp, key_id, created_at, sign_from, sign_until FROM keys ORDER BY kid',
  );
  const keyByKeyId = db.prepare<[string], KeyRow>('SELECT * FROM keys WHERE key_id = ?');
  const signingKey = db.prepare<[number, number], KeyRow>(
    'SELECT * FROM keys WHERE sign_from <= ? AND ? < sign_until ORDER BY sign_from DESC, kid DESC LIMIT 1',
  );
  const newestExpiredKey = db.prepare<[number], KeyRow>(
    'SELECT * FROM keys WHERE exp <= ? ORDER BY exp DESC, kid DESC LIMIT 1',
  );
  const publishedKeys = db.prepare<[number], Pick<KeyRow, 'key_id' | 'public_jwk'>>(
    'SELECT key_id, public_jwk FROM keys WHERE exp > ? ORDER BY kid',
  );
  const insertKey = db.prepare<[NewKey]>(
    `INSERT INTO keys (key, exp, key_id, public_jwk, created_at, sign_from, sign_until)
     VALUES (@key, @exp, @key_id, @public_jwk, @created_at, @sign_from, @sign_until)`,
  );
  const extendKey = db.prepare<[number, number, number]>('UPDATE keys SET sign_until = ?, exp = ? WHERE kid = ?');
  const deleteKey = db.prepare<[number]>('DELETE FROM keys WHERE kid = ?');

  const refreshByHash = db.prepare<[string], RefreshTokenRow>('SELECT * FROM refresh_tokens WHERE token_hash = ?');
  const insertRefresh = db.prepare<[NewRefreshToken]>(
    `INSERT INTO refresh_tokens (token_hash, user_id, family_id, created_at, expires_at)
     VALUES (@token_hash, @user_id, @family_id, @created_at, @expires_at)`,
  );
  const markRefreshUsed = db.prepare<[number, number, number]>(
    'UPDATE refresh_tokens SET used_at = ?, replaced_by = ? WHERE id = ?',
  );
  const revokeFamily = db.prepare<[string]>('UPDATE refresh_tokens SET revoked = 1 WHERE family_id = ? AND revoked = 0');
  const revokeUserRefresh = db.prepare<[number]>('UPDATE refresh_tokens SET revoked = 1 WHERE user_id = ? AND revoked = 0');

  return {
    userByUsername: (username: string): UserRow | undefined => userByUsername.get(username),
    userById: (id: number): PublicUserRow | undefined => userById.get(id),
    userWithHashById: (id: number): UserRow | undefined => userWithHashById.get(id),
    /** Sets the hash only if it is still `expected`; false when another change came first. */
    replacePasswordHash: (id: number, expected: string, hash: string): boolean => replacePasswordHash.run(hash, id, expected).changes === 1,
    userIdByEmail: (email: string): number | undefined => userIdByEmail.get(email)?.id,
    usersAfter: (afterId: number, limit: number): PublicUserRow[] => usersAfter.all(afterId, limit),
    insertUser: (user: NewUser): number => Number(insertUser.run(user).lastInsertRowid),
    setLastLogin: (id: number, at: string): void => void setLastLogin.run(at, id),
    /** Replaces a user's roles (a JSON array) and numbers the change in user_changes. */
    setRoles: (id: number, roles: string, at: string, by: number): void => {
      setRoles.run(roles, id);
      insertUserChange.run(id, at, by);
    },
    /** Replaces a user's names and email and numbers the change in user_changes. */
    setProfile: (id: number, profile: ProfileUpdate, at: string): void => {
      setProfile.run({ ...profile, id });
      insertUserChange.run(id, at, id);
    },
    /** Changes with seq > afterSeq, each with the user as they are now. */
    userChangesAfter: (afterSeq: number, limit: number): UserChangeRow[] => userChangesAfter.all(afterSeq, limit),

    insertAuthLog: (entry: AuthLogEntry): void => void insertAuthLog.run(entry),
    /** Deletes up to `max` of the oldest audit entries made before `before` (SQLite timestamp text); returns how many. */
    pruneAuthLogs: (before: string, max: number): number => pruneAuthLogs.run({ before, max }).changes,
    loginFailures: (username: string): LoginFailureRow | undefined => loginFailures.get(username),
    /**
     * Counts a failed login of `username` at `now`, in the window that began
     * after `now - windowS` or in a new one; and deletes a few rows whose
     * window has ended, so the table holds only live windows.
     */
    addLoginFailure: (username: string, now: number, windowS: number): void => {
      addLoginFailure.run({ username, now, windowStart: now - windowS });
      purgeLoginFailures.run(now - windowS, 16);
    },
    clearLoginFailures: (username: string): void => void clearLoginFailures.run(username),
    /** Newest first: rows with id < beforeId (any id when null) that match every filter given. */
    authLogs,

    keyTimes: (): KeyTimesRow[] => keyTimes.all(),
    keyByKeyId: (keyId: string): KeyRow | undefined => keyByKeyId.get(keyId),
    /** The newest key with sign_from <= now < sign_until. */
    signingKey: (now: number): KeyRow | undefined => signingKey.get(now, now),
    /** The newest key with exp <= now. */
    newestExpiredKey: (now: number): KeyRow | undefined => newestExpiredKey.get(now),
    publishedKeys: (now: number) => publishedKeys.all(now),
    insertKey: (key: NewKey): number => Number(insertKey.run(key).lastInsertRowid),
    extendKey: (kid: number, signUntil: number, exp: number): void => void extendKey.run(signUntil, exp, kid),
    deleteKey: (kid: number): void => void deleteKey.run(kid),

    refreshByHash: (hash: string): RefreshTokenRow | undefined => refreshByHash.get(hash),
    insertRefresh: (row: NewRefreshToken): number => Number(insertRefresh.run(row).lastInsertRowid),
    markRefreshUsed: (id: number, usedAt: number, replacedBy: number): void =>
      void markRefreshUsed.run(usedAt, replacedBy, id),
    revokeFamily: (familyId: string): number => revokeFamily.run(familyId).changes,
    /** Deletes up to `max` of the oldest refresh tokens that expired before `before` (unix seconds); returns how many. */
    pruneRefreshTokens: (before: number, max: number): number => pruneRefreshTokens.run({ before, max }).changes,
    /** Revokes every refresh token of a user (every login's chain). */
    revokeUserRefresh: (userId: number): number => revokeUserRefresh.run(userId).changes,
  };
}

export type AuthStore = ReturnType<typeof build>;

const stores = new WeakMap<Database, AuthStore>();

/** The statements for `db`, prepared on first use and reused afterwards. */
export function createAuthStore(db: Database): AuthStore {
  let store = stores.get(db);
  if (store === undefined) {
    store = build(db);
    stores.set(db, store);
  }
  return store;
}

/**
 * The auth database schema, one SQL script per version: `AUTH_MIGRATIONS[i]`
 * brings a database from `PRAGMA user_version = i` to `i + 1`. The runner (in
 * lib/) applies them on the primary; a script is never edited once released,
 * a change is a new entry.
 *
 * The three tables of the original JWKS server (keys, users, auth_logs) keep
 * their table and column names; the product's columns are added after them.
 *
 * Units: `keys` times are unix seconds (the original `exp` was), as are
 * `refresh_tokens` times; `users` and `auth_logs` TIMESTAMP columns hold
 * SQLite's `YYYY-MM-DD HH:MM:SS` UTC text (what CURRENT_TIMESTAMP writes).
 */
export const AUTH_MIGRATIONS: readonly string[] = [
  // 1: the initial schema.
  `
  CREATE TABLE IF NOT EXISTS users(
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT NOT NULL,
    email TEXT UNIQUE COLLATE NOCASE,
    date_registered TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    last_login TIMESTAMP,
    first_name TEXT NOT NULL DEFAULT '',
    last_name TEXT NOT NULL DEFAULT '',
    -- a JSON array of role names, e.g. ["student"]
    roles TEXT NOT NULL DEFAULT '["student"]'
      CHECK (json_valid(roles) AND json_type(roles) = 'array')
  );

  -- Signing keys. A key is published in the JWKS while exp > now, signs while
  -- sign_from <= now < sign_until; exp = sign_until + token TTL + JWKS cache.
  CREATE TABLE IF NOT EXISTS keys(
    kid INTEGER PRIMARY KEY AUTOINCREMENT,
    -- iv(12) | GCM tag(16) | AES-256-GCM ciphertext of the PKCS#8 PEM private key
    key BLOB NOT NULL,
    exp INTEGER NOT NULL,
    -- the JWT header's "kid": random, never reused
    key_id TEXT NOT NULL UNIQUE,
    -- the public JWK {kty, n, e}
    public_jwk TEXT NOT NULL CHECK (json_valid(public_jwk)),
    created_at INTEGER NOT NULL,
    sign_from INTEGER NOT NULL,
    sign_until INTEGER NOT NULL,
    CHECK (sign_from <= sign_until AND sign_until <= exp)
  );
  CREATE INDEX IF NOT EXISTS keys_exp ON keys(exp);

  CREATE TABLE IF NOT EXISTS auth_logs(
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    request_ip TEXT NOT NULL,
    request_timestamp TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    user_id INTEGER REFERENCES users(id),
    -- one of AUTH_OUTCOMES (domain/audit-log.ts): 'ok', 'bad_credentials',
    -- 'throttled', 'refresh_reuse', 'password_changed', …
    outcome TEXT NOT NULL DEFAULT 'ok',
    -- 'login' | 'auth' | 'token' | 'logout' | 'password'
    method TEXT NOT NULL DEFAULT 'auth',
    -- the username as sent (failed attempts included); NULL for refreshes
    username TEXT
  );
  CREATE INDEX IF NOT EXISTS auth_logs_user ON auth_logs(user_id);

  -- Refresh tokens are stored only as a SHA-256 hash. A family is one login's
  -- chain of rotations; presenting a used or revoked token revokes the family.
  CREATE TABLE IF NOT EXISTS refresh_tokens(
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash TEXT NOT NULL UNIQUE,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    family_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER,
    replaced_by INTEGER REFERENCES refresh_tokens(id),
    revoked INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1))
  );
  CREATE INDEX IF NOT EXISTS refresh_tokens_family ON refresh_tokens(family_id);
  CREATE INDEX IF NOT EXISTS refresh_tokens_user ON refresh_tokens(user_id);
  `,
  // 2: the registrar searches the audit log by the username sent, which a
  // failed login with an unknown name has no user_id for; failed logins are
  // counted per username sent, to throttle password guessing; and changes to
  // users are numbered, for the enrollment service's copy of the users.
  `
  CREATE INDEX IF NOT EXISTS auth_logs_username ON auth_logs(username COLLATE NOCASE);

  -- One row per username (as sent, known or not) with failed logins in the
  -- current window; a successful login deletes it. Times are unix seconds.
  CREATE TABLE IF NOT EXISTS login_failures(
    username TEXT PRIMARY KEY COLLATE NOCASE,
    failures INTEGER NOT NULL CHECK (failures > 0),
    window_start INTEGER NOT NULL,
    last_failure INTEGER NOT NULL
  );
  CREATE INDEX IF NOT EXISTS login_failures_window ON login_failures(window_start);

  -- Every change to what the user directory serves of a user (roles, names),
  -- in order: the enrollment service's copy of the users follows them by seq
  -- (UserDirectory.ListUserChanges).
  CREATE TABLE IF NOT EXISTS user_changes(
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users(id),
    changed_at TIMESTAMP NOT NULL,
    changed_by INTEGER REFERENCES users(id)
  );
  `,
];

import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { AUTH_MIGRATIONS } from './migrations.js';
import { createAuthStore } from './auth-store.js';
import type { NewUser } from './auth-store.js';

function memoryDb() {
  const db = new Database(':memory:');
  db.pragma('foreign_keys = ON');
  AUTH_MIGRATIONS.forEach((sql, i) => {
    db.exec(sql);
    db.pragma(`user_version = ${i + 1}`);
  });
  return db;
}

const user = (username: string, email: string | null): NewUser => ({
  username,
  password_hash: 'x',
  email,
  first_name: '',
  last_name: '',
  roles: '["student"]',
  date_registered: '2025-01-01 00:00:00',
});

test('migrations create the original tables with their original columns', () => {
  const db = memoryDb();
  const columns = (table: string) => (db.pragma(`table_info(${table})`) as { name: string }[]).map((c) => c.name);
  for (const c of ['kid', 'key', 'exp']) assert.ok(columns('keys').includes(c), `keys.${c}`);
  for (const c of ['id', 'username', 'password_hash', 'email', 'date_registered', 'last_login', 'roles', 'first_name', 'last_name']) {
    assert.ok(columns('users').includes(c), `users.${c}`);
  }
  for (const c of ['id', 'request_ip', 'request_timestamp', 'user_id', 'outcome', 'method', 'username']) {
    assert.ok(columns('auth_logs').includes(c), `auth_logs.${c}`);
  }
  assert.equal(db.pragma('user_version', { simple: true }), AUTH_MIGRATIONS.length);
});

test('username and email are unique regardless of case', () => {
  const store = createAuthStore(memoryDb());
  store.insertUser(user('Alice', 'Alice@Example.edu'));
  assert.throws(() => store.insertUser(user('alice', 'other@example.edu')), { code: 'SQLITE_CONSTRAINT_UNIQUE' });
  assert.throws(() => store.insertUser(user('bob', 'alice@example.EDU')), { code: 'SQLITE_CONSTRAINT_UNIQUE' });
  assert.equal(store.userByUsername('ALICE')?.username, 'Alice');
  // NULL emails do not collide.
  store.insertUser(user('carol', null));
  store.insertUser(user('dave', null));
});

test('roles must be a JSON array and auth_logs.user_id must reference a user', () => {
  const db = memoryDb();
  const store = createAuthStore(db);
  assert.throws(() => store.insertUser({ ...user('eve', null), roles: 'student' }), { code: 'SQLITE_CONSTRAINT_CHECK' });
  assert.throws(
    () =>
      store.insertAuthLog({ request_ip: '1.2.3.4', request_timestamp: 'x', user_id: 999, outcome: 'ok', method: 'login', username: 'x' }),
    { code: 'SQLITE_CONSTRAINT_FOREIGNKEY' },
  );
});

test('statements are prepared once per connection', () => {
  const a = memoryDb();
  const b = memoryDb();
  assert.equal(createAuthStore(a), createAuthStore(a));
  assert.notEqual(createAuthStore(a), createAuthStore(b));
});

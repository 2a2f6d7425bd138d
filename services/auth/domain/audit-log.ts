/**
 * The audit log of the token endpoints, as the registrar (all of it) and each
 * user (their own entries) read it: newest first, filtered by user, username,
 * outcome or method, in keyset pages.
 * (The rows are written by the token endpoints in auth-domain.ts.)
 */
import type { ListAuthLogsRequest } from '../../../gen/ts/auth/v1/ListAuthLogsRequest.js';
import type { ListAuthLogsResponse__Output } from '../../../gen/ts/auth/v1/ListAuthLogsResponse.js';
import { invalidArgument, permissionDenied } from '../../../lib/errors.js';
import { readPage, toPage } from '../../../lib/pagination.js';
import type { AuthLogFilter, AuthStore } from '../store/auth-store.js';
import { rfc3339 } from './timestamps.js';

/** What became of a request, one of these per row. */
export const AUTH_OUTCOMES = [
  'ok',
  'bad_credentials',
  'expired_key',
  'refresh_ok',
  'refresh_reuse',
  'refresh_invalid',
  'refresh_expired',
  'logout',
  'logout_invalid',
  'password_changed',
  'password_reset',
  'throttled',
] as const;
export type AuthOutcome = (typeof AUTH_OUTCOMES)[number];

/** Which endpoint was called: POST /login, /auth, /token, /logout, /me/password. */
export const AUTH_METHODS = ['login', 'auth', 'token', 'logout', 'password'] as const;
export type AuthMethod = (typeof AUTH_METHODS)[number];

/** Usernames are at most 64 characters (validation.ts); a filter longer than any username sent is refused. */
const MAX_USERNAME_FILTER = 256;

function oneOf<T extends string>(field: string, value: string | undefined, allowed: readonly T[]): T | null {
  if (value === undefined || value === '') return null;
  if (!(allowed as readonly string[]).includes(value)) throw invalidArgument(field, `must be one of ${allowed.join(', ')}`);
  return value as T;
}

export function authLogFilter(req: ListAuthLogsRequest): AuthLogFilter {
  const userId = req.user_id ?? 0;
  if (!Number.isInteger(userId) || userId < 0) throw invalidArgument('user_id', 'must be a positive id');
  const username = req.username ?? '';
  if (username.length > MAX_USERNAME_FILTER) throw invalidArgument('username', `must be at most ${MAX_USERNAME_FILTER} characters`);
  return {
    userId: userId === 0 ? null : userId,
    username: username === '' ? null : username,
    outcome: oneOf('outcome', req.outcome, AUTH_OUTCOMES),
    method: oneOf('method', req.method, AUTH_METHODS),
  };
}

/**
 * The registrar reads every entry; anyone else only the entries about
 * themself (their logins, refreshes and logouts, and wrong passwords sent for
 * their username), which is what they get without a user_id. Asking for
 * another user's is PERMISSION_DENIED, before anything is read.
 */
export function listAuthLogs(
  store: AuthStore,
  caller: { userId: number; roles: readonly string[] },
  req: ListAuthLogsRequest,
): ListAuthLogsResponse__Output {
  const filter = authLogFilter(req);
  if (!caller.roles.includes('registrar')) {
    if (filter.userId !== null && filter.userId !== caller.userId) {
      throw permissionDenied("only a registrar may read another user's audit entries");
    }
    filter.userId = caller.userId;
  }
  const cursor = readPage('authlog', 1, req);
  // The first page's cursor is 0: no bound. Later pages continue below the last id shown.
  const rows = store.authLogs(cursor.afterId === 0 ? null : cursor.afterId, filter, cursor.limit);
  const page = toPage(cursor, rows, (row) => [row.id]);
  return {
    entries: page.rows.map((row) => ({
      id: row.id,
      request_ip: row.request_ip,
      request_timestamp: rfc3339(row.request_timestamp),
      user_id: row.user_id ?? 0,
      username: row.username ?? '',
      method: row.method,
      outcome: row.outcome,
    })),
    next_page_token: page.next_page_token,
  };
}

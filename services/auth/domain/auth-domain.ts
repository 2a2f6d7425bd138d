/**
 * The auth service's use cases, free of transport: registration, login,
 * refresh-token rotation, logout, password change, profile, the audit log,
 * JWKS, and keeping the signing keys filled.
 *
 * Reads go to the read handle; every change is one `write` (a synchronous
 * function run in one transaction on the primary). Slow work (argon2, RSA key
 * generation, JWT signing) happens outside writes. Failed logins and refreshes
 * are audited in their own write before the error is thrown, so the audit row
 * commits.
 */
import { randomUUID } from 'node:crypto';
import type { Database } from 'better-sqlite3';
import type { DirectoryUser__Output } from '../../../gen/ts/auth/v1/DirectoryUser.js';
import type { Jwks__Output } from '../../../gen/ts/auth/v1/Jwks.js';
import type { ListAuthLogsRequest } from '../../../gen/ts/auth/v1/ListAuthLogsRequest.js';
import type { ListAuthLogsResponse__Output } from '../../../gen/ts/auth/v1/ListAuthLogsResponse.js';
import type { RegisterResponse__Output } from '../../../gen/ts/auth/v1/RegisterResponse.js';
import type { TokenResponse__Output } from '../../../gen/ts/auth/v1/TokenResponse.js';
import type { User__Output } from '../../../gen/ts/auth/v1/User.js';
import {
  aborted,
  alreadyExists,
  failedPrecondition,
  invalidArgument,
  notFound,
  permissionDenied,
  resourceExhausted,
  unauthenticated,
  unavailable,
} from '../../../lib/errors.js';
import { defineWrite } from '../../../lib/writer.js';
import { createAuthStore } from '../store/auth-store.js';
import type { AuthLogEntry, AuthStore, NewRefreshToken, NewUser, ProfileUpdate, PublicUserRow } from '../store/auth-store.js';
import { listAuthLogs, type AuthOutcome } from './audit-log.js';
import { KeyRing } from './keyring.js';
import { DEFAULT_LOGIN_THROTTLE, loginRetryAfter, type LoginThrottlePolicy } from './login-throttle.js';
import type { EnsureResult, KeyStatus, SigningKey, WriteFn } from './keyring.js';
import { HashGate } from './hash-gate.js';
import { DUMMY_HASH, generatePassword, hashPassword, verifyPassword } from './passwords.js';
import { rotationPolicy, toSeconds } from './rotation.js';
import { rfc3339, sqliteTimestamp } from './timestamps.js';
import type { RotationPolicy } from './rotation.js';
import { DEFAULT_REFRESH_TTL, hashRefreshToken, newRefreshToken, signAccessToken, verifyAccessToken } from './tokens.js';
import type { Identity } from './tokens.js';
import { SELF_SERVICE_ROLES, checkEmail, checkName, checkPassword, checkRoles, checkUsername, parseRoles } from './validation.js';

export type { Identity } from './tokens.js';
export type { WriteFn } from './keyring.js';

export interface AuthDomainOptions {
  /** The read handle (a replica's, or the primary's read connection). */
  db: Database;
  /** One write transaction on the primary; `fn` is synchronous. */
  write: WriteFn;
  /** 32 bytes; encrypts the signing keys at rest. */
  keyEncryptionKey: Buffer;
  issuer: string;
  audience: string;
  policy?: Partial<RotationPolicy>;
  /** Refresh-token lifetime in seconds (default 7 days). */
  refreshTtl?: number;
  /**
   * How long a login or registration whose password work (verify or hash) is
   * done waits for others still at theirs, to commit with them (see
   * hash-gate.ts; 0: never).
   */
  loginCommitWaitMs?: number;
  /** Failed logins allowed per username (login-throttle.ts); default 10 per 15 minutes. */
  loginThrottle?: LoginThrottlePolicy;
  /** How long audit entries are kept, in seconds (default a year; 0: for ever). See `prune`. */
  auditRetentionS?: number;
  clock?: () => Date;
}

export interface RegisterInput {
  username?: string;
  email?: string;
  first_name?: string;
  last_name?: string;
  password?: string;
  roles?: readonly string[];
}

/** The verified identity of whoever calls, when there is one. */
export interface Caller {
  userId: number;
  roles: readonly string[];
}

export interface LoginMeta {
  ip: string;
  method: 'login' | 'auth';
  /** Sign with an expired key and a past exp (POST /auth?expired). */
  expired?: boolean;
}

export interface RequestMeta {
  ip: string;
}

/** Audit entries are kept a year unless configured otherwise. */
export const DEFAULT_AUDIT_RETENTION_S = 365 * 24 * 3600;
/** The most rows of each kind one `prune` deletes: one bounded write; the next call goes on. */
export const PRUNE_BATCH = 1000;

export interface PruneResult {
  authLogs: number;
  refreshTokens: number;
}

const BAD_CREDENTIALS = 'invalid username or password';
const BAD_REFRESH = 'invalid refresh token';
const DEFAULT_PAGE_SIZE = 100;
const MAX_PAGE_SIZE = 1000;

function toUser(row: PublicUserRow): User__Output {
  return {
    user_id: row.id,
    username: row.username,
    email: row.email ?? '',
    first_name: row.first_name,
    last_name: row.last_name,
    roles: parseRoles(row.roles),
    date_registered: rfc3339(row.date_registered),
    last_login: rfc3339(row.last_login),
  };
}

/** What the enrollment service mirrors of a user: no email, no dates. */
function toDirectoryUser(row: PublicUserRow): DirectoryUser__Output {
  return { user_id: row.id, username: row.username, first_name: row.first_name, last_name: row.last_name, roles: parseRoles(row.roles) };
}

/** The rows to read for a directory page: `after` must not be negative; page_size 0 means the default. */
function directoryPage(field: string, after: number, pageSize: number): number {
  if (!Number.isInteger(after) || after < 0) throw invalidArgument(field, 'must be a non-negative integer');
  if (!Number.isInteger(pageSize) || pageSize < 0) throw invalidArgument('page_size', 'must be a non-negative integer');
  return pageSize === 0 ? DEFAULT_PAGE_SIZE : Math.min(pageSize, MAX_PAGE_SIZE);
}

function requireRegistrarCaller(caller: Caller, what: string): void {
  if (!caller.roles.includes('registrar')) throw permissionDenied(`only a registrar may ${what}`);
}

function requireUserId(value: number | undefined): number {
  const userId = value ?? 0;
  if (!Number.isInteger(userId) || userId <= 0) throw invalidArgument('user_id', 'must be a positive integer');
  return userId;
}

function assertAvailable(store: AuthStore, username: string, email: string | null): void {
  if (store.userByUsername(username) !== undefined) throw alreadyExists('username already exists');
  if (email !== null && store.userIdByEmail(email) !== undefined) throw alreadyExists('email already exists');
}

export class AuthDomain {
  readonly #db: Database;
  readonly #write: WriteFn;
  readonly #keys: KeyRing;
  readonly #settings: { issuer: string; audience: string };
  readonly #policy: RotationPolicy;
  readonly #refreshTtl: number;
  readonly #clock: () => Date;
  /** Logins and registrations pass it after their argon2id work, before their write. */
  readonly #passwordGate: HashGate;
  readonly #throttle: LoginThrottlePolicy;
  readonly #auditRetentionS: number;

  constructor(options: AuthDomainOptions) {
    if (!options.issuer) throw invalidArgument('issuer', 'required');
    if (!options.audience) throw invalidArgument('audience', 'required');
    this.#db = options.db;
    this.#write = options.write;
    this.#policy = rotationPolicy(options.policy);
    this.#keys = new KeyRing({ db: options.db, write: options.write, keyEncryptionKey: options.keyEncryptionKey, policy: this.#policy });
    this.#settings = { issuer: options.issuer, audience: options.audience };
    this.#refreshTtl = options.refreshTtl ?? DEFAULT_REFRESH_TTL;
    this.#clock = options.clock ?? (() => new Date());
    this.#passwordGate = new HashGate(options.loginCommitWaitMs ?? 0);
    this.#throttle = options.loginThrottle ?? DEFAULT_LOGIN_THROTTLE;
    this.#auditRetentionS = options.auditRetentionS ?? DEFAULT_AUDIT_RETENTION_S;
  }

  /**
   * Deletes what is no longer kept, oldest first, at most `max` rows of each
   * kind (the primary calls it on a timer, so a backlog goes over several
   * calls): audit entries older than the retention, and refresh tokens that
   * expired a refresh lifetime ago. Until then a used token presented again
   * still revokes its chain, as within its lifetime; once its row is gone it
   * is refused as unknown, which an expired token is anyway.
   */
  async prune(max = PRUNE_BATCH): Promise<PruneResult> {
    const now = this.#clock();
    return this.#write(pruneExpired, {
      authLogsBefore: this.#auditRetentionS > 0 ? sqliteTimestamp(new Date(now.getTime() - this.#auditRetentionS * 1000)) : undefined,
      refreshExpiredBefore: toSeconds(now) - this.#refreshTtl,
      max,
    });
  }

  get keys(): KeyRing {
    return this.#keys;
  }

  get #read(): AuthStore {
    return createAuthStore(this.#db);
  }

  /**
   * Creates an account. Anyone may register as a student; other roles need a
   * registrar caller. Without a password one is generated and returned (only here).
   */
  async register(input: RegisterInput, caller?: Caller): Promise<RegisterResponse__Output> {
    const username = checkUsername(input.username);
    const email = checkEmail(input.email);
    const firstName = checkName('first_name', input.first_name);
    const lastName = checkName('last_name', input.last_name);
    const given = checkPassword(input.password);
    const roles = checkRoles(input.roles);
    if (roles.some((r) => !SELF_SERVICE_ROLES.includes(r)) && !caller?.roles.includes('registrar')) {
      throw permissionDenied('only a registrar may grant the roles instructor and registrar');
    }
    // Cheap early answer before the expensive hash; the write checks again.
    assertAvailable(this.#read, username, email);

    const password = given ?? generatePassword();
    const passwordHash = await this.#passwordGate.after(() => hashPassword(password));
    const registeredAt = sqliteTimestamp(this.#clock());
    const userId = await this.#write(insertNewUser, {
      username,
      password_hash: passwordHash,
      email,
      first_name: firstName,
      last_name: lastName,
      roles: JSON.stringify(roles),
      date_registered: registeredAt,
    });
    return { user_id: userId, username, roles, password: given === undefined ? password : '' };
  }

  /**
   * Checks a username and password and issues tokens. An unknown username and
   * a wrong password take the same time and give the same error. Every attempt
   * is written to auth_logs. A username with too many recent failures is
   * refused before its password is checked (login-throttle.ts).
   */
  async login(input: { username?: string; password?: string }, meta: LoginMeta): Promise<TokenResponse__Output> {
    const username = input.username ?? '';
    const password = input.password ?? '';
    if (username === '') throw invalidArgument('username', 'required');
    if (password === '') throw invalidArgument('password', 'required');

    const user = this.#read.userByUsername(username);
    const logAt = (at: Date) => ({
      request_ip: meta.ip,
      request_timestamp: sqliteTimestamp(at),
      user_id: user?.id ?? null,
      method: meta.method,
      username,
    });
    const asked = this.#clock();
    const retryAfter = loginRetryAfter(this.#read.loginFailures(username), this.#throttle, toSeconds(asked));
    if (retryAfter > 0) {
      await this.#write(audit, { ...logAt(asked), outcome: 'throttled' });
      throw refusal({ outcome: 'throttled', retryAfter });
    }

    const matches = await this.#passwordGate.after(() => verifyPassword(user?.password_hash ?? DUMMY_HASH, password));
    const now = this.#clock();
    const log = logAt(now);
    // Guesses checked at once all passed the check above; the write asks again (throttledInWrite).
    const throttle = { ...this.#throttle, now: toSeconds(now) };
    if (user === undefined || !matches) {
      throw refusal(await this.#write(recordLoginFailure, { log: { ...log, outcome: 'bad_credentials' }, throttle }));
    }

    const expired = meta.expired === true;
    const key = await this.#signingKey(now, expired);
    const refresh = expired ? undefined : newRefreshToken();
    const t = toSeconds(now);
    const verdict = await this.#write(recordLogin, {
      log: { ...log, user_id: user.id, outcome: expired ? 'expired_key' : 'ok' },
      // A login starts a new family of refresh tokens.
      refresh: refresh && { token_hash: refresh.hash, user_id: user.id, family_id: randomUUID(), created_at: t, expires_at: t + this.#refreshTtl },
      throttle,
      checkedHash: user.password_hash,
    });
    if (verdict.outcome !== 'ok') throw refusal(verdict);
    return this.#tokens(key, { userId: user.id, username: user.username, roles: parseRoles(user.roles) }, now, expired, refresh?.token);
  }

  /**
   * Exchanges a refresh token for a new pair. The presented token is retired;
   * presenting a retired (or revoked) token again revokes its whole family.
   */
  async refresh(input: { refresh_token?: string }, meta: RequestMeta): Promise<TokenResponse__Output> {
    const presented = input.refresh_token ?? '';
    if (presented === '') throw invalidArgument('refresh_token', 'required');
    const now = this.#clock();
    const t = toSeconds(now);
    const hash = hashRefreshToken(presented);
    const next = newRefreshToken();
    // Before the write, so a missing key does not consume the token.
    const key = await this.#signingKey(now, false);

    const user = await this.#write(rotateRefresh, {
      hash,
      next: { token_hash: next.hash, created_at: t, expires_at: t + this.#refreshTtl },
      audit: { request_ip: meta.ip, request_timestamp: sqliteTimestamp(now), method: 'token' },
      now: t,
    });
    if (user === undefined) throw unauthenticated(BAD_REFRESH);
    return this.#tokens(key, { userId: user.id, username: user.username, roles: parseRoles(user.roles) }, now, false, next.token);
  }

  /**
   * Revokes the presented refresh token's whole chain (one login's), auditing
   * it. An unknown token is audited and answered the same, as RFC 7009 has it:
   * the caller learns nothing about tokens it does not hold.
   */
  async logout(input: { refresh_token?: string }, meta: RequestMeta): Promise<Record<string, never>> {
    const presented = input.refresh_token ?? '';
    if (presented === '') throw invalidArgument('refresh_token', 'required');
    const now = this.#clock();
    await this.#write(revokeRefreshFamily, {
      hash: hashRefreshToken(presented),
      audit: { request_ip: meta.ip, request_timestamp: sqliteTimestamp(now), method: 'logout' },
    });
    return {};
  }

  /**
   * Changes the caller's password, given the current one. Every refresh token
   * of the user is revoked (every other login ends once its access token
   * expires), and the answer is a fresh pair, so the caller stays logged in.
   * A wrong current password is audited and refused as INVALID_ARGUMENT, not
   * UNAUTHENTICATED: the caller's token is good.
   */
  async changePassword(
    userId: number,
    input: { current_password?: string; new_password?: string },
    meta: RequestMeta,
  ): Promise<TokenResponse__Output> {
    const current = input.current_password ?? '';
    if (current === '') throw invalidArgument('current_password', 'required');
    const next = checkPassword(input.new_password, 'new_password');
    if (next === undefined) throw invalidArgument('new_password', 'required');
    const user = this.#read.userWithHashById(userId);
    if (user === undefined) throw notFound('user');

    const matches = await this.#passwordGate.after(() => verifyPassword(user.password_hash, current));
    const now = this.#clock();
    const log = { request_ip: meta.ip, request_timestamp: sqliteTimestamp(now), user_id: user.id, method: 'password', username: user.username };
    if (!matches) {
      await this.#write(audit, { ...log, outcome: 'bad_credentials' });
      throw invalidArgument('current_password', 'does not match');
    }
    // Only once the caller has shown they know the current password: before, this
    // answer would confirm a guess of it.
    if (next === current) throw invalidArgument('new_password', 'must differ from the current password');
    const newHash = await hashPassword(next);
    const key = await this.#signingKey(now, false);
    const refresh = newRefreshToken();
    const t = toSeconds(now);
    const changed = await this.#write(replacePassword, {
      log: { ...log, outcome: 'password_changed' },
      expectedHash: user.password_hash,
      newHash,
      refresh: { token_hash: refresh.hash, user_id: user.id, family_id: randomUUID(), created_at: t, expires_at: t + this.#refreshTtl },
    });
    if (!changed) throw aborted('the password was changed meanwhile; try again with the new one');
    return this.#tokens(key, { userId: user.id, username: user.username, roles: parseRoles(user.roles) }, now, false, refresh.token);
  }

  /** The profile of `userId`. */
  me(userId: number): User__Output {
    const row = this.#read.userById(userId);
    if (row === undefined) throw notFound('user');
    return toUser(row);
  }

  /** The audit log, newest first (audit-log.ts): all of it for the registrar, their own entries for anyone else. */
  listAuthLogs(caller: Caller, req: ListAuthLogsRequest): ListAuthLogsResponse__Output {
    return listAuthLogs(this.#read, caller, req);
  }

  /**
   * Registrar only: a new generated password for `userId`, returned once.
   * Revokes every refresh token of the user and clears their count of failed
   * logins, in the write that replaces the hash (ABORTED if the password
   * changed meanwhile).
   */
  async resetPassword(
    caller: Caller,
    input: { user_id?: number },
    meta: RequestMeta,
  ): Promise<{ user_id: number; username: string; password: string }> {
    requireRegistrarCaller(caller, "reset a user's password");
    const userId = requireUserId(input.user_id);
    const user = this.#read.userWithHashById(userId);
    if (user === undefined) throw notFound(`user ${userId}`);
    const password = generatePassword();
    const newHash = await this.#passwordGate.after(() => hashPassword(password));
    const at = sqliteTimestamp(this.#clock());
    const reset = await this.#write(resetPasswordHash, {
      log: { request_ip: meta.ip, request_timestamp: at, user_id: user.id, method: 'password', username: user.username, outcome: 'password_reset' },
      expectedHash: user.password_hash,
      newHash,
    });
    if (!reset) throw aborted('the password was changed meanwhile; try again');
    return { user_id: user.id, username: user.username, password };
  }

  /**
   * Registrar only: replaces the roles of `userId` (at least one). A registrar
   * keeps their own registrar role, so the last one cannot lock everyone out.
   */
  async setUserRoles(caller: Caller, input: { user_id?: number; roles?: readonly string[] }): Promise<User__Output> {
    requireRegistrarCaller(caller, "change a user's roles");
    const userId = requireUserId(input.user_id);
    if (!input.roles || input.roles.length === 0) throw invalidArgument('roles', 'must name at least one role');
    const roles = checkRoles(input.roles);
    if (userId === caller.userId && !roles.includes('registrar')) {
      throw failedPrecondition('a registrar cannot take the registrar role from themself');
    }
    const changed = await this.#write(replaceRoles, {
      userId,
      roles: JSON.stringify(roles),
      at: sqliteTimestamp(this.#clock()),
      by: caller.userId,
    });
    if (!changed) throw notFound(`user ${userId}`);
    return this.me(userId);
  }

  /**
   * Changes the caller's names or email; only the fields present change.
   * Numbered like a role change, so the enrollment service's copy follows.
   */
  async updateMe(userId: number, input: { first_name?: string | null; last_name?: string | null; email?: string | null }): Promise<User__Output> {
    // Only the fields sent travel to the write, which applies them to the row as it is
    // then: two changes at once to different fields both stand.
    const change: Partial<ProfileUpdate> = {};
    if (input.first_name != null) change.first_name = checkName('first_name', input.first_name);
    if (input.last_name != null) change.last_name = checkName('last_name', input.last_name);
    if (input.email != null) change.email = checkEmail(input.email);
    const updated = await this.#write(replaceProfile, { userId, change, at: sqliteTimestamp(this.#clock()) });
    if (updated === 'no_user') throw notFound('user');
    if (updated === 'email_taken') throw alreadyExists('email already exists');
    return toUser(updated);
  }

  /** Changes to users after `afterSeq` (the internal UserDirectory), each with the user as they are now. */
  userChangesAfter(afterSeq: number, pageSize: number): Array<{ seq: number; user: DirectoryUser__Output }> {
    const limit = directoryPage('after_seq', afterSeq, pageSize);
    return this.#read.userChangesAfter(afterSeq, limit).map((row) => ({ seq: row.seq, user: toDirectoryUser(row) }));
  }

  /** Users with id > afterId in id order (the internal UserDirectory): no email, no dates. */
  listUsersAfter(afterId: number, pageSize: number): DirectoryUser__Output[] {
    const limit = directoryPage('after_id', afterId, pageSize);
    return this.#read.usersAfter(afterId, limit).map(toDirectoryUser);
  }

  /** The public keys of every unexpired signing key. */
  jwks(now: Date = this.#clock()): Jwks__Output {
    return { keys: this.#keys.publicJwks(now) };
  }

  /** Verifies an access token against the published keys. */
  verifyAccessToken(token: string): Promise<Identity> {
    return verifyAccessToken(token, this.#clock(), (kid, at) => this.#keys.publicKey(kid, at), this.#settings);
  }

  /** The signing-key schedule now, for the metrics. */
  keyStatus(now: Date = this.#clock()): KeyStatus {
    return this.#keys.status(now);
  }

  /** Keeps the signing-key schedule filled; the primary calls this periodically. */
  ensureSigningKeys(): Promise<EnsureResult> {
    return this.#keys.ensureSigningKeys(this.#clock());
  }

  /** Creates the first registrar unless a user of that name exists (which is left as is). */
  async ensureRegistrar(username: string, password: string): Promise<{ user_id: number; created: boolean }> {
    checkUsername(username);
    if (checkPassword(password) === undefined) throw invalidArgument('password', 'required');
    const existing = this.#read.userByUsername(username);
    if (existing !== undefined) return { user_id: existing.id, created: false };
    const passwordHash = await hashPassword(password);
    const registeredAt = sqliteTimestamp(this.#clock());
    return this.#write(insertRegistrar, {
      username,
      password_hash: passwordHash,
      email: null,
      first_name: '',
      last_name: '',
      roles: JSON.stringify(['registrar']),
      date_registered: registeredAt,
    });
  }

  /** The key to sign with; creates the schedule on first use if the primary has not yet. */
  async #signingKey(now: Date, expired: boolean): Promise<SigningKey> {
    const pick = () => (expired ? this.#keys.expiredKey(now) : this.#keys.currentSigningKey(now));
    let key = pick();
    if (key === undefined) {
      await this.#keys.ensureSigningKeys(now);
      key = pick();
    }
    if (key === undefined) throw unavailable('no signing key available, retry');
    return key;
  }

  #tokens(
    key: SigningKey,
    who: Identity,
    now: Date,
    expired: boolean,
    refreshToken: string | undefined,
  ): TokenResponse__Output {
    const t = toSeconds(now);
    const ttl = this.#policy.tokenTtl;
    // An expired token: issued two lifetimes ago, expired one lifetime ago.
    const exp = expired ? t - ttl : t + ttl;
    const jwt = signAccessToken(key, who, { iat: exp - ttl, exp }, this.#settings);
    return {
      access_token: jwt,
      token: jwt,
      token_type: 'Bearer',
      expires_in: exp - t,
      refresh_token: refreshToken ?? '',
      refresh_expires_in: refreshToken === undefined ? 0 : this.#refreshTtl,
    };
  }
}

// The write operations (lib/writer.ts): each runs in the primary's write
// transaction, perhaps on its writer thread, with only the arguments it is sent.

const insertNewUser = defineWrite('auth.register', (db, user: NewUser) => {
  const store = createAuthStore(db);
  assertAvailable(store, user.username, user.email);
  return store.insertUser(user);
});

/** Applies the fields of `change` to the user's row as it is now; answers the row, or why not. */
const replaceProfile = defineWrite(
  'auth.updateMe',
  (db, a: { userId: number; change: Partial<ProfileUpdate>; at: string }): PublicUserRow | 'no_user' | 'email_taken' => {
    const store = createAuthStore(db);
    const current = store.userById(a.userId);
    if (current === undefined) return 'no_user';
    const profile: ProfileUpdate = {
      first_name: a.change.first_name ?? current.first_name,
      last_name: a.change.last_name ?? current.last_name,
      email: a.change.email ?? current.email,
    };
    const holder = profile.email === null ? undefined : store.userIdByEmail(profile.email);
    if (holder !== undefined && holder !== a.userId) return 'email_taken';
    store.setProfile(a.userId, profile, a.at);
    return store.userById(a.userId)!;
  },
);

/** False when there is no such user. */
const replaceRoles = defineWrite('auth.setRoles', (db, a: { userId: number; roles: string; at: string; by: number }) => {
  const store = createAuthStore(db);
  if (store.userById(a.userId) === undefined) return false;
  store.setRoles(a.userId, a.roles, a.at, a.by);
  return true;
});

const pruneExpired = defineWrite(
  'auth.prune',
  (db, a: { authLogsBefore: string | undefined; refreshExpiredBefore: number; max: number }): PruneResult => {
    const store = createAuthStore(db);
    return {
      authLogs: a.authLogsBefore === undefined ? 0 : store.pruneAuthLogs(a.authLogsBefore, a.max),
      refreshTokens: store.pruneRefreshTokens(a.refreshExpiredBefore, a.max),
    };
  },
);

const audit = defineWrite('auth.audit', (db, entry: AuthLogEntry) => createAuthStore(db).insertAuthLog(entry));

/** The throttle's policy and the time of a login's password check, for its write to apply. */
type ThrottleAt = LoginThrottlePolicy & { now: number };

/** What a login's write decided: it stands, or it is refused after all. */
type LoginVerdict = { outcome: 'ok' } | LoginRefusal;
type LoginRefusal = { outcome: 'throttled'; retryAfter: number } | { outcome: 'bad_credentials' };

function refusal(verdict: LoginRefusal) {
  return verdict.outcome === 'throttled'
    ? resourceExhausted(`too many failed logins for this username; try again in ${verdict.retryAfter} s`, verdict.retryAfter)
    : unauthenticated(BAD_CREDENTIALS);
}

/**
 * A login checks its password, and the throttle, before its write, while
 * other requests may write: guesses at the same username sent at once all
 * pass the throttle before any of them is counted. So its write asks the
 * throttle again, where no other write interleaves: once the limit was
 * reached, the login is audited as `throttled` and refused (whether its
 * password was right or wrong), exactly as if it had been sent after those
 * guesses. Undefined when the username is not throttled.
 */
function throttledInWrite(store: AuthStore, log: AuthLogEntry & { username: string }, throttle: ThrottleAt): LoginRefusal | undefined {
  const retryAfter = loginRetryAfter(store.loginFailures(log.username), throttle, throttle.now);
  if (retryAfter === 0) return undefined;
  store.insertAuthLog({ ...log, outcome: 'throttled' });
  return { outcome: 'throttled', retryAfter };
}

/** A wrong password (or unknown username), not throttled: audited and counted against the username sent. */
function countFailure(store: AuthStore, log: AuthLogEntry & { username: string }, throttle: ThrottleAt): LoginRefusal {
  store.insertAuthLog({ ...log, outcome: 'bad_credentials' });
  store.addLoginFailure(log.username, throttle.now, throttle.windowS);
  return { outcome: 'bad_credentials' };
}

/** Audits a wrong password (or unknown username) and counts it against the username sent, unless the username is throttled by now. */
const recordLoginFailure = defineWrite('auth.loginFailure', (db, a: { log: AuthLogEntry & { username: string }; throttle: ThrottleAt }) => {
  const store = createAuthStore(db);
  return throttledInWrite(store, a.log, a.throttle) ?? countFailure(store, a.log, a.throttle);
});

/**
 * Records a successful login (and its first refresh token). Unless, by now,
 * the username is throttled, or the password was changed or reset after the
 * login checked it (`checkedHash`): then the password it was sent is a wrong
 * one, since a change ends every login, and it fails as one (`countFailure`).
 */
const recordLogin = defineWrite(
  'auth.login',
  (
    db,
    a: {
      log: AuthLogEntry & { user_id: number; username: string };
      refresh?: NewRefreshToken;
      throttle: ThrottleAt;
      checkedHash: string;
    },
  ): LoginVerdict => {
    const store = createAuthStore(db);
    const throttled = throttledInWrite(store, a.log, a.throttle);
    if (throttled) return throttled;
    if (store.userWithHashById(a.log.user_id)?.password_hash !== a.checkedHash) return countFailure(store, a.log, a.throttle);
    store.setLastLogin(a.log.user_id, a.log.request_timestamp);
    store.insertAuthLog(a.log);
    store.clearLoginFailures(a.log.username);
    if (a.refresh) store.insertRefresh(a.refresh);
    return { outcome: 'ok' };
  },
);

/**
 * Retires the presented refresh token and stores its successor, auditing the
 * outcome. Returns the token's owner, or undefined when the token is refused.
 */
const rotateRefresh = defineWrite(
  'auth.refresh',
  (
    db,
    a: {
      hash: string;
      next: Omit<NewRefreshToken, 'user_id' | 'family_id'>;
      audit: Pick<AuthLogEntry, 'request_ip' | 'request_timestamp' | 'method'>;
      now: number;
    },
  ): PublicUserRow | undefined => {
    const store = createAuthStore(db);
    const row = store.refreshByHash(a.hash);
    const audit = (outcome: AuthOutcome, userId: number | null, username: string | null) =>
      store.insertAuthLog({ ...a.audit, user_id: userId, outcome, username });
    if (row === undefined) {
      audit('refresh_invalid', null, null);
      return undefined;
    }
    const owner = store.userById(row.user_id);
    if (row.revoked !== 0 || row.used_at !== null) {
      store.revokeFamily(row.family_id);
      audit('refresh_reuse', row.user_id, owner?.username ?? null);
      return undefined;
    }
    if (row.expires_at <= a.now || owner === undefined) {
      audit('refresh_expired', row.user_id, owner?.username ?? null);
      return undefined;
    }
    const nextId = store.insertRefresh({ ...a.next, user_id: row.user_id, family_id: row.family_id });
    store.markRefreshUsed(row.id, a.now, nextId);
    audit('refresh_ok', row.user_id, owner.username);
    return owner;
  },
);

/**
 * Replaces a password hash if it is still the one the current password was
 * checked against, revokes every refresh token of the user and starts a new
 * chain. False (and nothing written) when another change came first.
 */
const replacePassword = defineWrite(
  'auth.changePassword',
  (
    db,
    a: { log: AuthLogEntry & { user_id: number }; expectedHash: string; newHash: string; refresh: NewRefreshToken },
  ): boolean => {
    const store = createAuthStore(db);
    if (!store.replacePasswordHash(a.log.user_id, a.expectedHash, a.newHash)) return false;
    store.revokeUserRefresh(a.log.user_id);
    store.insertRefresh(a.refresh);
    store.insertAuthLog(a.log);
    return true;
  },
);

const resetPasswordHash = defineWrite(
  'auth.resetPassword',
  (db, a: { log: AuthLogEntry & { user_id: number; username: string }; expectedHash: string; newHash: string }): boolean => {
    const store = createAuthStore(db);
    if (!store.replacePasswordHash(a.log.user_id, a.expectedHash, a.newHash)) return false;
    store.revokeUserRefresh(a.log.user_id);
    store.clearLoginFailures(a.log.username);
    store.insertAuthLog(a.log);
    return true;
  },
);

/** Revokes the chain of the presented refresh token, if it exists, and audits the logout. */
const revokeRefreshFamily = defineWrite(
  'auth.logout',
  (db, a: { hash: string; audit: Pick<AuthLogEntry, 'request_ip' | 'request_timestamp' | 'method'> }): number => {
    const store = createAuthStore(db);
    const row = store.refreshByHash(a.hash);
    if (row === undefined) {
      store.insertAuthLog({ ...a.audit, user_id: null, outcome: 'logout_invalid', username: null });
      return 0;
    }
    const revoked = store.revokeFamily(row.family_id);
    store.insertAuthLog({ ...a.audit, user_id: row.user_id, outcome: 'logout', username: store.userById(row.user_id)?.username ?? null });
    return revoked;
  },
);

/** Creates the registrar unless a user of that name exists (left as is). */
const insertRegistrar = defineWrite('auth.ensureRegistrar', (db, user: NewUser) => {
  const store = createAuthStore(db);
  const found = store.userByUsername(user.username);
  if (found !== undefined) return { user_id: found.id, created: false };
  return { user_id: store.insertUser(user), created: true };
});

/**
 * Group commit gives the auth service the same results as one transaction per
 * request (issue 4), with the calls that race each other in practice: logins
 * (right, wrong and old passwords, unknown usernames, the same username in
 * another case, enough wrong ones to reach the throttle), refreshes (the same
 * token twice at once, spent and revoked ones), logouts, password changes and
 * registrar resets beside logins, registrations of one name twice at once, and
 * role changes.
 *
 * Each round starts one to eight such calls at once. Their password checks
 * pass the hash gate together (`loginCommitWaitMs`, as the service runs it),
 * so their writes reach the batch writer together and share commits, split by
 * a `maxBatch` drawn per round (`test/support/group-commit.ts`). After each
 * round the same writes are replayed in the order the writer took them, one
 * transaction each, on a copy of the database as it was before the round:
 * every answer and every row must be the same. And after each round:
 * - every refusal is an AppError of a client status;
 * - a chain of refresh tokens has at most one token that can still be spent,
 *   and no token is followed by two;
 * - no username is counted past the throttle's limit;
 * - a user whose password was changed or reset in the round has no chain
 *   begun before that write that can still be spent.
 *
 * To replay seeds, printing every round: AUTH_GROUP_COMMIT_SEEDS=3,7 node
 * --test dist/services/auth/domain/group-commit.test.js
 * (AUTH_GROUP_COMMIT_ROUNDS sets the number of rounds per seed).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AppError, Status } from '../../../lib/errors.js';
import type { WritableDb } from '../../../lib/sqlite.js';
import { Dice } from '../../../test/support/seeded-random.js';
import { countCoverage, recordingBatchWrites, refusal, replayDifferences, type Coverage } from '../../../test/support/group-commit.js';
import type { AuthDomain } from './auth-domain.js';
import { TestClock, newDomain, openTestDb, type TestDb } from './testkit.js';

const SEEDS = process.env.AUTH_GROUP_COMMIT_SEEDS?.split(',').map(Number) ?? [1, 2, 3];
const ROUNDS = Number(process.env.AUTH_GROUP_COMMIT_ROUNDS ?? 40);
const TRACE = process.env.AUTH_GROUP_COMMIT_SEEDS !== undefined;
const THROTTLE = { limit: 3, windowS: 120 };
const CLIENT_STATUSES = [Status.INVALID_ARGUMENT, Status.NOT_FOUND, Status.ALREADY_EXISTS, Status.PERMISSION_DENIED, Status.UNAUTHENTICATED, Status.RESOURCE_EXHAUSTED, Status.ABORTED];
const REGISTRAR = { userId: 1, roles: ['registrar'] };
const IP = '10.7.0.1';

interface Person {
  id: number;
  username: string;
  password: string;
  oldPassword?: string;
}

/** A call of the round: what it is, and what it does to the people when it succeeds. */
interface Call {
  label: string;
  run: () => Promise<unknown>;
  then?: (answer: unknown) => void;
}

class Round extends Dice {
  people: Person[] = [];
  /** Refresh tokens handed out, spent or not. */
  tokens: string[] = [];
  nextName = 0;
  constructor(
    seed: number,
    readonly domain: AuthDomain,
  ) {
    super(seed);
  }
  /** Mostly one of the first three people, so that calls at once meet at one user. */
  person(): Person {
    return this.chance(0.7) ? this.pick(this.people.slice(0, 3)) : this.pick(this.people);
  }
  recase(name: string): string {
    return this.chance(0.3) ? name.toUpperCase() : name;
  }

  login(): Call {
    const p = this.person();
    const kind = this.pick(['right', 'right', 'wrong', 'old', 'unknown'] as const);
    const username = kind === 'unknown' ? `nobody${this.int(1, 2)}` : this.recase(p.username);
    const password = kind === 'right' ? p.password : kind === 'old' ? (p.oldPassword ?? 'never was') : `guess ${this.int(1, 99)}`;
    return {
      label: `login ${username} (${kind} password)`,
      run: () => this.domain.login({ username, password }, { ip: IP, method: this.chance(0.5) ? 'login' : 'auth' }),
      then: (a) => this.tokens.push((a as { refresh_token: string }).refresh_token),
    };
  }
  refresh(): Call {
    const token = this.tokens.length > 0 && this.chance(0.9) ? this.pick(this.tokens.slice(-6)) : 'not a token';
    return {
      label: `refresh …${token.slice(-6)}`,
      run: () => this.domain.refresh({ refresh_token: token }, { ip: IP }),
      then: (a) => this.tokens.push((a as { refresh_token: string }).refresh_token),
    };
  }
  logout(): Call {
    const token = this.tokens.length > 0 ? this.pick(this.tokens.slice(-6)) : 'not a token';
    return { label: `logout …${token.slice(-6)}`, run: () => this.domain.logout({ refresh_token: token }, { ip: IP }) };
  }
  changePassword(): Call {
    const p = this.person();
    const current = this.chance(0.8) ? p.password : 'not the current one';
    const next = `new password ${this.nextName++}`;
    return {
      label: `${p.username} changes the password`,
      run: () => this.domain.changePassword(p.id, { current_password: current, new_password: next }, { ip: IP }),
      then: (a) => {
        p.oldPassword = p.password;
        p.password = next;
        this.tokens.push((a as { refresh_token: string }).refresh_token);
      },
    };
  }
  resetPassword(): Call {
    const p = this.person();
    return {
      label: `the registrar resets ${p.username}`,
      run: () => this.domain.resetPassword(REGISTRAR, { user_id: p.id }, { ip: IP }),
      then: (a) => {
        p.oldPassword = p.password;
        p.password = (a as { password: string }).password;
      },
    };
  }
  register(): Call {
    const username = this.chance(0.3) && this.people.length > 0 ? this.recase(this.person().username) : `user${this.int(1, 40)}`;
    const password = `password of ${username} ${this.nextName++}`;
    return {
      label: `register ${username}`,
      run: () => this.domain.register({ username, email: `${username.toLowerCase()}.${this.nextName}@example.edu`, password }),
      then: (a) => this.people.push({ id: (a as { user_id: number }).user_id, username, password }),
    };
  }
  setRoles(): Call {
    const p = this.person();
    const roles = [this.pick(['student', 'instructor'])];
    return { label: `${p.username} becomes ${roles[0]}`, run: () => this.domain.setUserRoles(REGISTRAR, { user_id: p.id, roles }) };
  }
  draw(): Call {
    const make = this.weighted<() => Call>([
      [() => this.login(), 10],
      [() => this.refresh(), 5],
      [() => this.logout(), 2],
      [() => this.changePassword(), 2],
      [() => this.resetPassword(), 1],
      [() => this.register(), 2],
      [() => this.setRoles(), 1],
    ]);
    return make();
  }
}

/** The rules the tables must keep whatever ran at once. */
function tableViolations(t: TestDb): string[] {
  const found: string[] = [];
  const live = t.read
    .prepare<[], { family_id: string; n: number }>('SELECT family_id, count(*) AS n FROM refresh_tokens WHERE revoked = 0 AND used_at IS NULL GROUP BY family_id HAVING n > 1')
    .all();
  for (const f of live) found.push(`chain ${f.family_id} has ${f.n} tokens that can be spent`);
  const forked = t.read.prepare<[], { replaced_by: number; n: number }>('SELECT replaced_by, count(*) AS n FROM refresh_tokens WHERE replaced_by IS NOT NULL GROUP BY replaced_by HAVING n > 1').all();
  for (const f of forked) found.push(`token ${f.replaced_by} follows ${f.n} tokens`);
  const counted = t.read.prepare<[number], { username: string; failures: number }>('SELECT username, failures FROM login_failures WHERE failures > ?').all(THROTTLE.limit);
  for (const c of counted) found.push(`${c.username} is counted ${c.failures} failures, past the limit of ${THROTTLE.limit}`);
  return found;
}

/** Users whose hash (`before`) a write of the round replaced must have no token older than the round (id up to `lastTokenBefore`) left to spend. */
function chainsOutlivingAChange(t: TestDb, before: Map<number, string>, lastTokenBefore: number): string[] {
  const found: string[] = [];
  for (const [userId, hash] of before) {
    const now = t.read.prepare<[number], { password_hash: string }>('SELECT password_hash FROM users WHERE id = ?').get(userId)?.password_hash;
    if (now === hash) continue;
    const old = t.read
      .prepare<[number, number], { n: number }>('SELECT count(*) AS n FROM refresh_tokens WHERE user_id = ? AND id <= ? AND revoked = 0 AND used_at IS NULL')
      .get(userId, lastTokenBefore)!.n;
    if (old > 0) found.push(`user ${userId}'s password changed, yet ${old} earlier tokens can still be spent`);
  }
  return found;
}

async function rounds(seed: number): Promise<void> {
  const t = openTestDb();
  const writes = recordingBatchWrites(t.writer as WritableDb);
  const clock = new TestClock(Date.UTC(2025, 2, 3, 8, 0, 0) + seed * 1000);
  const { domain } = newDomain(t, clock, { write: writes.write, loginThrottle: THROTTLE, loginCommitWaitMs: 40 });
  const r = new Round(seed, domain);
  const coverage: Coverage = { shared: 0, mixed: 0, split: 0 };
  try {
    await domain.ensureSigningKeys();
    await domain.ensureRegistrar('registrar', 'the registrar password');
    for (let i = 1; i <= 4; i++) {
      const username = `person${i}`;
      const password = `password of ${username}`;
      const { user_id: id } = await domain.register({ username, email: `${username}@example.edu`, password });
      r.people.push({ id, username, password });
    }
    for (let round = 1; round <= ROUNDS; round++) {
      clock.advance(r.int(0, 40));
      await domain.ensureSigningKeys();
      const calls = Array.from({ length: r.int(1, 8) }, () => r.draw());
      const maxBatch = r.int(1, calls.length + 1);
      writes.next(maxBatch);
      const before = t.writer.serialize();
      const hashes = new Map(t.read.prepare<[], { id: number; password_hash: string }>('SELECT id, password_hash FROM users').all().map((u) => [u.id, u.password_hash]));
      const lastToken = (t.read.prepare('SELECT max(id) FROM refresh_tokens').pluck().get() as number | null) ?? 0;
      const settled = await Promise.allSettled(calls.map((c) => c.run()));
      const taken = writes.taken();
      if (TRACE) {
        console.log(`seed ${seed} round ${round} (at most ${maxBatch} per commit):`);
        calls.forEach((c, i) => {
          const s = settled[i]!;
          console.log(`  ${c.label}${s.status === 'rejected' ? ` -> refused: ${refusal(s.reason)}` : ''}`);
        });
      }
      const found: string[] = [];
      settled.forEach((s, i) => {
        if (s.status === 'fulfilled') calls[i]!.then?.(s.value);
        else if (!(s.reason instanceof AppError) || !CLIENT_STATUSES.includes(s.reason.code)) found.push(`${calls[i]!.label}: refused with ${refusal(s.reason)}`);
      });
      if (taken.some((w) => w.answer === undefined)) found.push('a write was never answered');
      found.push(...tableViolations(t), ...chainsOutlivingAChange(t, hashes, lastToken), ...replayDifferences(before, taken, t.writer));
      if (found.length > 0) {
        assert.fail(`seed ${seed}, round ${round} (${calls.map((c) => c.label).join('; ')}; at most ${maxBatch} per commit):\n  ${found.join('\n  ')}`);
      }
      countCoverage(taken, coverage);
    }
    if (TRACE) console.log(`seed ${seed}: ${JSON.stringify(coverage)}`);
    assert.ok(coverage.shared > 0 && coverage.split > 0, `seed ${seed}: the batches met too little: ${JSON.stringify(coverage)}`);
  } finally {
    t.close();
  }
}

for (const seed of SEEDS) {
  test(`seed ${seed}: ${ROUNDS} rounds of logins, refreshes and password changes at once answer and store what one transaction each would`, () =>
    rounds(seed));
}

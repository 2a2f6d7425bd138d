/**
 * Password guessing, throttled per username. Envoy's rate limit caps how many
 * logins the whole service takes; this caps how many wrong passwords one
 * account takes, whoever sends them and from wherever.
 *
 * Failed logins are counted per username as sent (known or not, so the answer
 * tells nothing about whether the account exists) in a window that starts at
 * the first failure. Once `limit` failures fall in the window, every login for
 * that username is refused without checking its password (so no argon2id work
 * either) until the window ends. A successful login clears the count.
 *
 * This lets an attacker who knows a username lock its owner out for at most
 * one window at a time; that is the price of not letting them guess at the
 * rate Envoy allows. Guesses sent at once all pass the check before any of them
 * is counted, so each login's write asks again (`auth-domain.ts`,
 * `throttledInWrite`): once the limit is reached the rest are refused and
 * audited as `throttled`, the right password too, as if sent after the others.
 * Their passwords were still checked (the argon2id work, which Envoy's bucket
 * bounds), but no more than `limit` guesses per window get an answer that
 * tells a right password from a wrong one.
 */
import type { LoginFailureRow } from '../store/auth-store.js';

export interface LoginThrottlePolicy {
  /** Failed logins per username per window; 0 turns the throttle off. */
  limit: number;
  /** The window's length in seconds, from its first failure. */
  windowS: number;
}

/** 10 wrong passwords per username in 15 minutes. */
export const DEFAULT_LOGIN_THROTTLE: LoginThrottlePolicy = Object.freeze({ limit: 10, windowS: 900 });

/** Seconds until `row`'s username may try again at `nowS`; 0 when it may now. */
export function loginRetryAfter(row: LoginFailureRow | undefined, policy: LoginThrottlePolicy, nowS: number): number {
  if (policy.limit === 0 || row === undefined || row.failures < policy.limit) return 0;
  const ends = row.window_start + policy.windowS;
  return ends > nowS ? ends - nowS : 0;
}

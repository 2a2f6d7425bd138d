/**
 * When signing keys are created, start and stop signing, and leave the JWKS.
 *
 * Envoy caches the JWKS for `jwksCache` and does not re-fetch on an unknown
 * kid, so a key is published (from created_at) `publishLead >= jwksCache`
 * before it signs, and stays published after it stops signing until every
 * token it signed has expired plus one cache period:
 *
 *   created_at ── publishLead ──► sign_from ── rotateEvery ──► sign_until ── tokenTtl + jwksCache ──► exp
 *   |◄──────────────────────────── in the JWKS (exp > now) ───────────────────────────────────────►|
 *
 * All times are unix seconds.
 */
import type { Database } from 'better-sqlite3';
import { DefaultJwksCacheS } from '../../../lib/config.js';
import { invalidArgument } from '../../../lib/errors.js';
import { createAuthStore } from '../store/auth-store.js';
import type { KeyTimesRow } from '../store/auth-store.js';

export interface RotationPolicy {
  /** How long a key signs. */
  rotateEvery: number;
  /** How long a key is published before it signs; at least jwksCache. */
  publishLead: number;
  /** Access-token lifetime. */
  tokenTtl: number;
  /** How long Envoy and the enrollment service keep the JWKS (Envoy's cache_duration). */
  jwksCache: number;
}

export const DEFAULT_ROTATE_EVERY = 24 * 3600;
export const DEFAULT_PUBLISH_LEAD = 15 * 60;
export const DEFAULT_TOKEN_TTL = 15 * 60;
export const DEFAULT_JWKS_CACHE = DefaultJwksCacheS;

export const DEFAULT_ROTATION_POLICY: RotationPolicy = Object.freeze({
  rotateEvery: DEFAULT_ROTATE_EVERY,
  publishLead: DEFAULT_PUBLISH_LEAD,
  tokenTtl: DEFAULT_TOKEN_TTL,
  jwksCache: DEFAULT_JWKS_CACHE,
});

/** Fills defaults and checks the constraints between the durations. */
export function rotationPolicy(partial: Partial<RotationPolicy> = {}): RotationPolicy {
  const policy = { ...DEFAULT_ROTATION_POLICY, ...partial };
  for (const [name, value] of Object.entries(policy)) {
    if (!Number.isInteger(value) || value <= 0) throw invalidArgument(`policy.${name}`, 'must be a positive integer (seconds)');
  }
  if (policy.publishLead < policy.jwksCache) {
    throw invalidArgument('policy.publishLead', 'must be at least policy.jwksCache');
  }
  if (policy.rotateEvery <= 2 * policy.publishLead) {
    throw invalidArgument('policy.rotateEvery', 'must be more than twice policy.publishLead');
  }
  return Object.freeze(policy);
}

export interface KeySchedule {
  created_at: number;
  sign_from: number;
  sign_until: number;
  exp: number;
}

export interface RotationPlan {
  /** Keys to create, in this order. */
  insert: KeySchedule[];
  /** A late successor pushes the current key's end out so no moment is left without a signer. */
  extend?: { kid: number; sign_until: number; exp: number };
  /** Expired keys beyond the newest one, no longer needed. */
  delete: number[];
}

export function toSeconds(now: Date): number {
  return Math.floor(now.getTime() / 1000);
}

function schedule(policy: RotationPolicy, createdAt: number, signFrom: number): KeySchedule {
  const signUntil = signFrom + policy.rotateEvery;
  return { created_at: createdAt, sign_from: signFrom, sign_until: signUntil, exp: signUntil + policy.tokenTtl + policy.jwksCache };
}

/**
 * The pure rotation rule over the keys' schedules at time `t`:
 * - no key signs now: create one that signs at once (the very first key of an
 *   empty database; after it only an outage that outlived every key gets here);
 * - the last scheduled key stops signing within 2 × publishLead (publishLead,
 *   plus as much again of slack for the periodic caller): create its successor,
 *   signing from that end but never less than publishLead after now (if late,
 *   the current key is extended to meet it);
 * - no expired key exists: create one (for POST /auth?expired), expired at once;
 * - expired keys other than the newest one are deleted.
 */
export function planFromKeys(keys: readonly KeyTimesRow[], t: number, policy: RotationPolicy): RotationPlan {
  const plan: RotationPlan = { insert: [], delete: [] };

  const signing = keys.filter((k) => k.sign_from <= t && t < k.sign_until);
  // The key whose signing period ends last (the current one or an already created successor).
  let last: KeySchedule & { kid?: number } | undefined = keys
    .filter((k) => k.sign_until > t)
    .reduce<KeyTimesRow | undefined>((a, k) => (a === undefined || k.sign_until > a.sign_until ? k : a), undefined);

  if (signing.length === 0) {
    const now = schedule(policy, t, t);
    plan.insert.push(now);
    if (last === undefined || now.sign_until > last.sign_until) last = now;
  }

  if (last !== undefined && last.sign_until - t <= 2 * policy.publishLead) {
    const signFrom = Math.max(last.sign_until, t + policy.publishLead);
    if (signFrom > last.sign_until && last.kid !== undefined) {
      plan.extend = { kid: last.kid, sign_until: signFrom, exp: signFrom + policy.tokenTtl + policy.jwksCache };
    }
    plan.insert.push(schedule(policy, t, signFrom));
  }

  const expired = keys.filter((k) => k.exp <= t).sort((a, b) => b.exp - a.exp || b.kid - a.kid);
  if (expired.length === 0) {
    // Never signs normally (sign_from = sign_until); only ever used for ?expired.
    const exp = t - 1;
    const end = exp - policy.tokenTtl - policy.jwksCache;
    plan.insert.push({ created_at: t, sign_from: end, sign_until: end, exp });
  } else {
    plan.delete = expired.slice(1).map((k) => k.kid);
  }
  return plan;
}

/** What `ensureSigningKeys` has to do on `db` at `now` (synchronous; reads only). */
export function planRotation(db: Database, now: Date, policy: RotationPolicy = DEFAULT_ROTATION_POLICY): RotationPlan {
  return planFromKeys(createAuthStore(db).keyTimes(), toSeconds(now), policy);
}

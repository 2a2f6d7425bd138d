/**
 * The signing-key schedule, from the environment. One variable, JWKS_CACHE_S,
 * is read by everything that caches the JWKS: scripts/envoy.sh writes it into
 * Envoy's cache_duration, the enrollment service's verifier keeps the key set
 * no longer, and the schedule publishes every key at least that long before
 * it signs (domain/rotation.ts). So a token signed by a new key is never met
 * by a cache that has not seen the key yet.
 */
import { MaxDurationS, jwksCacheSeconds, seconds } from '../../lib/config.js';
import { AppError } from '../../lib/errors.js';
import { DEFAULT_ROTATION_POLICY, rotationPolicy, type RotationPolicy } from './domain/index.js';

/** The variable that sets each field of the schedule. */
export const KeyPolicyEnv: Readonly<Record<keyof RotationPolicy, string>> = Object.freeze({
  rotateEvery: 'AUTH_KEY_ROTATE_S',
  publishLead: 'AUTH_KEY_PUBLISH_LEAD_S',
  tokenTtl: 'ACCESS_TOKEN_TTL_S',
  jwksCache: 'JWKS_CACHE_S',
});

/**
 * The schedule the environment asks for, each field defaulting to
 * DEFAULT_ROTATION_POLICY's. A value out of range or a schedule that breaks
 * the rules between them (publish lead at least the JWKS cache; a key signs
 * for more than twice the lead) throws, naming the variables.
 */
export function keyPolicyFromEnv(): RotationPolicy {
  const fields = Object.keys(KeyPolicyEnv) as Array<keyof RotationPolicy>;
  const values: RotationPolicy = {
    rotateEvery: seconds(KeyPolicyEnv.rotateEvery, DEFAULT_ROTATION_POLICY.rotateEvery, MaxDurationS),
    publishLead: seconds(KeyPolicyEnv.publishLead, DEFAULT_ROTATION_POLICY.publishLead, MaxDurationS),
    tokenTtl: seconds(KeyPolicyEnv.tokenTtl, DEFAULT_ROTATION_POLICY.tokenTtl, MaxDurationS),
    jwksCache: jwksCacheSeconds(),
  };
  try {
    return rotationPolicy(values);
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    // rotationPolicy names its fields (policy.publishLead); say which variables those are.
    const message = fields.reduce((m, field) => m.replaceAll(`policy.${field}`, KeyPolicyEnv[field]), err.message);
    const given = fields.map((field) => `${KeyPolicyEnv[field]}=${values[field]}`).join(', ');
    throw new Error(`signing-key schedule (${given}): ${message}`);
  }
}

/** The primary checks the schedule at least twice per publish lead, and at least once a minute. */
export function keyCheckIntervalMs(policy: RotationPolicy): number {
  return Math.min(60_000, (policy.publishLead * 1000) / 2);
}

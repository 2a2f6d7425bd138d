/** The auth domain's public surface. */
export { AuthDomain, DEFAULT_AUDIT_RETENTION_S, PRUNE_BATCH, type PruneResult } from './auth-domain.js';
export { rfc3339, sqliteTimestamp } from './timestamps.js';
export { AUTH_METHODS, AUTH_OUTCOMES } from './audit-log.js';
export type { AuthMethod, AuthOutcome } from './audit-log.js';
export type { AuthDomainOptions, Caller, Identity, LoginMeta, RegisterInput, RequestMeta, WriteFn } from './auth-domain.js';
export { KeyRing } from './keyring.js';
export { DEFAULT_LOGIN_THROTTLE, loginRetryAfter } from './login-throttle.js';
export type { LoginThrottlePolicy } from './login-throttle.js';
export type { EnsureResult, SigningKey } from './keyring.js';
export { generateSigningKey, loadPrivateKey, openPrivateKey, sealPrivateKey } from './keys.js';
export { ARGON2_PARAMS, DUMMY_HASH, generatePassword, hashPassword, verifyPassword } from './passwords.js';
export { DEFAULT_ROTATION_POLICY, planFromKeys, planRotation, rotationPolicy } from './rotation.js';
export type { RotationPlan, RotationPolicy } from './rotation.js';
export { DEFAULT_REFRESH_TTL, hashRefreshToken, newRefreshToken, signAccessToken, verifyAccessToken } from './tokens.js';
export { ROLES } from './validation.js';
export type { Role } from './validation.js';

/**
 * Access tokens (RS256 JWTs) and refresh tokens (opaque, stored hashed).
 */
import { createHash, randomBytes, randomUUID, sign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { errors as joseErrors, jwtVerify } from 'jose';
import { unauthenticated } from '../../../lib/errors.js';

export const DEFAULT_REFRESH_TTL = 7 * 24 * 3600;

/** Who a verified access token speaks for. */
export interface Identity {
  userId: number;
  username: string;
  roles: string[];
}

export interface TokenSettings {
  issuer: string;
  audience: string;
}

/**
 * Signs an access token for `who` valid from `iat` to `exp` (unix seconds): a
 * JWT in JWS compact form (RFC 7515), RS256 (RSASSA-PKCS1-v1_5 with SHA-256,
 * RFC 7518 §3.3), with the header `{alg, kid, typ}`.
 *
 * Signed with node:crypto's synchronous `sign`, about 0.25 ms on the event
 * loop, not with jose's `SignJWT`: jose signs through WebCrypto, which runs on
 * libuv's thread pool, and in the auth service that pool is the argon2id
 * hashes' (one thread per core), so every login's signature waited in line
 * behind the hashes queued there. Tokens are still verified with jose, here
 * (`verifyAccessToken`), in the enrollment service and in the tests, and by
 * Envoy (bench/README.md, "Every change measured, at a glance").
 */
export function signAccessToken(
  key: { keyId: string; privateKey: KeyObject },
  who: Identity,
  times: { iat: number; exp: number },
  settings: TokenSettings,
): string {
  const header = { alg: 'RS256', kid: key.keyId, typ: 'JWT' };
  const claims = {
    username: who.username,
    roles: who.roles,
    sub: String(who.userId),
    iss: settings.issuer,
    aud: settings.audience,
    iat: times.iat,
    exp: times.exp,
    jti: randomUUID(),
  };
  const signingInput = `${base64url(header)}.${base64url(claims)}`;
  return `${signingInput}.${sign('sha256', Buffer.from(signingInput), key.privateKey).toString('base64url')}`;
}

function base64url(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/**
 * Verifies an access token: RS256 only, a key published at `now` (looked up
 * by the header's kid), issuer, audience and expiry. Any failure is
 * UNAUTHENTICATED.
 */
export async function verifyAccessToken(
  token: string,
  now: Date,
  publicKey: (keyId: string, now: Date) => KeyObject | undefined,
  settings: TokenSettings,
): Promise<Identity> {
  let payload;
  try {
    ({ payload } = await jwtVerify(
      token,
      (header) => {
        const key = typeof header.kid === 'string' ? publicKey(header.kid, now) : undefined;
        if (key === undefined) throw new joseErrors.JWKSNoMatchingKey();
        return key;
      },
      {
        algorithms: ['RS256'],
        issuer: settings.issuer,
        audience: settings.audience,
        currentDate: now,
        typ: 'JWT',
        requiredClaims: ['sub', 'iat', 'exp'],
      },
    ));
  } catch (cause) {
    // The cause is for the logs, and tells an unknown key apart (unknownKeysRetryableWhenBehind).
    throw unauthenticated(cause instanceof joseErrors.JWTExpired ? 'token expired' : 'invalid token', cause);
  }
  const { sub, username, roles } = payload;
  if (
    typeof sub !== 'string' ||
    !/^[1-9][0-9]{0,9}$/.test(sub) ||
    typeof username !== 'string' ||
    !Array.isArray(roles) ||
    !roles.every((r): r is string => typeof r === 'string')
  ) {
    throw unauthenticated('invalid token');
  }
  return { userId: Number(sub), username, roles };
}

/** A new refresh token: 32 random bytes, base64url; only its hash is stored. */
export function newRefreshToken(): { token: string; hash: string } {
  const token = randomBytes(32).toString('base64url');
  return { token, hash: hashRefreshToken(token) };
}

/** SHA-256 hex: refresh tokens are high-entropy, so a fast hash is enough. */
export function hashRefreshToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

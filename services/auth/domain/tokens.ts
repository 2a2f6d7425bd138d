/**
 * Access tokens (RS256 JWTs) and refresh tokens (opaque, stored hashed).
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { SignJWT, errors as joseErrors, jwtVerify } from 'jose';
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

/** Signs an access token for `who` valid from `iat` to `exp` (unix seconds). */
export function signAccessToken(
  key: { keyId: string; privateKey: KeyObject },
  who: Identity,
  times: { iat: number; exp: number },
  settings: TokenSettings,
): Promise<string> {
  return new SignJWT({ username: who.username, roles: who.roles })
    .setProtectedHeader({ alg: 'RS256', kid: key.keyId, typ: 'JWT' })
    .setSubject(String(who.userId))
    .setIssuer(settings.issuer)
    .setAudience(settings.audience)
    .setIssuedAt(times.iat)
    .setExpirationTime(times.exp)
    .setJti(randomUUID())
    .sign(key.privateKey);
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
    const err = unauthenticated(cause instanceof joseErrors.JWTExpired ? 'token expired' : 'invalid token');
    err.cause = cause; // for the logs only
    throw err;
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

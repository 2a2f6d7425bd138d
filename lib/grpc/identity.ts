/**
 * Who is calling: the identity in a verified access token.
 *
 * Envoy verifies tokens before a request reaches a service; the services
 * verify them again (defence in depth, and direct gRPC callers on a node's
 * port bypass Envoy). The enrollment service verifies against the auth
 * service's JWKS on its own node; the auth service uses its own keys.
 */
import { createRemoteJWKSet, decodeJwt, errors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { AppError, Status, unauthenticated, unavailable } from '../errors.js';

export interface Identity {
  userId: number;
  username: string;
  roles: string[];
}

export interface TokenVerifier {
  /** Resolves the identity, or throws UNAUTHENTICATED. */
  verify(token: string): Promise<Identity>;
}

/** Turns verified JWT claims into an Identity, refusing tokens that lack ours. */
export function identityFromClaims(claims: Record<string, unknown>): Identity {
  const userId = Number(claims.sub);
  const roles = claims.roles;
  if (!Number.isInteger(userId) || userId <= 0 || typeof claims.username !== 'string' || !Array.isArray(roles) || !roles.every((r) => typeof r === 'string')) {
    throw unauthenticated('token is missing required claims');
  }
  return { userId, username: claims.username, roles: roles as string[] };
}

/**
 * Verifies tokens against a JWKS fetched over HTTP and kept for at most
 * `cacheSeconds`, as Envoy keeps it (JWKS_CACHE_S): the auth service publishes a
 * key that long before it signs, so no token meets a copy without its key.
 */
export function remoteVerifier(jwksUrl: string, issuer: string, audience: string, cacheSeconds: number): TokenVerifier {
  // jose also re-fetches at once when a token names an unknown kid, at most every 5 s.
  const cacheMaxAge = cacheSeconds * 1000;
  const remote = createRemoteJWKSet(new URL(jwksUrl), { cooldownDuration: Math.min(5_000, cacheMaxAge), cacheMaxAge });
  // A key set that cannot be fetched (the auth service beside us not up yet, a timeout, a
  // bad answer) is not the token's fault: UNAVAILABLE, which a client may retry, instead of
  // UNAUTHENTICATED, which tells it to drop a token that may be good.
  const keys: JWTVerifyGetKey = async (header, token) => {
    try {
      return await remote(header, token);
    } catch (err) {
      if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) throw err;
      throw unavailable('cannot fetch the keys that check tokens, retry', err);
    }
  };
  return cachingVerifier({
    async verify(token: string): Promise<Identity> {
      try {
        const { payload } = await jwtVerify(token, keys, { issuer, audience, algorithms: ['RS256'] });
        return identityFromClaims(payload);
      } catch (err) {
        if (err instanceof AppError) throw err;
        throw unauthenticated('invalid or expired token', err);
      }
    },
  });
}

/**
 * A node cut off from its primary may lack a signing key the primary made since: the
 * primary publishes each key AUTH_KEY_PUBLISH_LEAD_S (15 min) before it signs with it,
 * so a current node always has it, but a replica away for longer does not. While this
 * node is not current (`isCurrent`: the primary, or a replica within
 * REPLICA_MAX_LAG_MS), a token that names a key it does not know is answered
 * UNAVAILABLE, which a client retries on another node, instead of UNAUTHENTICATED,
 * which tells it to drop a token that may be good. A current node still refuses it as
 * unauthenticated, and so does this one again once it has caught up. Every other
 * refusal passes through unchanged.
 */
export function unknownKeysRetryableWhenBehind(inner: TokenVerifier, isCurrent: () => boolean): TokenVerifier {
  return {
    async verify(token: string): Promise<Identity> {
      try {
        return await inner.verify(token);
      } catch (err) {
        const unknownKey = err instanceof AppError && err.code === Status.UNAUTHENTICATED && err.cause instanceof errors.JWKSNoMatchingKey;
        if (unknownKey && !isCurrent()) {
          throw unavailable('this node is behind its primary and may not have the key that signed this token yet; retry on another node', err);
        }
        throw err;
      }
    },
  };
}

/** How long a verified token is trusted without checking its signature again. */
export const VerifiedTokenTtlMs = 60_000;
/** How many verified tokens are remembered. */
export const VerifiedTokenCacheSize = 10_000;

/**
 * Remembers tokens that verified, until their exp or for VerifiedTokenTtlMs,
 * whichever comes first, so a client's every request does not pay for an RSA
 * signature check. Only successes are cached; the cache forgets oldest first.
 */
export function cachingVerifier(inner: TokenVerifier, now: () => number = Date.now): TokenVerifier {
  const verified = new Map<string, { identity: Identity; until: number }>();
  return {
    async verify(token: string): Promise<Identity> {
      const hit = verified.get(token);
      if (hit && hit.until > now()) return hit.identity;
      verified.delete(token);
      const identity = await inner.verify(token);
      const exp = decodeJwt(token).exp;
      const until = Math.min(now() + VerifiedTokenTtlMs, typeof exp === 'number' ? exp * 1000 : 0);
      if (until > now()) {
        if (verified.size >= VerifiedTokenCacheSize) verified.delete(verified.keys().next().value!);
        verified.set(token, { identity, until });
      }
      return identity;
    },
  };
}

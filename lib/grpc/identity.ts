/**
 * Who is calling: the identity in a verified access token.
 *
 * Envoy verifies tokens before a request reaches a service; the services
 * verify them again (defence in depth, and direct gRPC callers on a node's
 * port bypass Envoy). The enrollment service verifies against the auth
 * service's JWKS on its own node; the auth service uses its own keys.
 */
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { unauthenticated } from '../errors.js';

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

export function remoteVerifier(jwksUrl: string, issuer: string, audience: string): TokenVerifier {
  // jose caches the key set and re-fetches it when a token names an unknown kid.
  const keys = createRemoteJWKSet(new URL(jwksUrl), { cooldownDuration: 5_000, cacheMaxAge: 60_000 });
  return {
    async verify(token: string): Promise<Identity> {
      try {
        const { payload } = await jwtVerify(token, keys, { issuer, audience, algorithms: ['RS256'] });
        return identityFromClaims(payload);
      } catch (err) {
        if (err instanceof Error && err.name === 'AppError') throw err;
        throw unauthenticated('invalid or expired token');
      }
    },
  };
}

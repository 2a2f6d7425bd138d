/**
 * The auth service's RPCs: one short handler each, translating the call into
 * a domain operation. Writes (register, the token endpoints) run on the
 * primary; a replica forwards them (lib/grpc/handler.ts).
 */
import type { AuthRequest__Output } from '../../gen/ts/auth/v1/AuthRequest.js';
import type { ChangePasswordRequest__Output } from '../../gen/ts/auth/v1/ChangePasswordRequest.js';
import type { ListAuthLogsRequest__Output } from '../../gen/ts/auth/v1/ListAuthLogsRequest.js';
import type { ListUserChangesRequest__Output } from '../../gen/ts/auth/v1/ListUserChangesRequest.js';
import type { UpdateMeRequest__Output } from '../../gen/ts/auth/v1/UpdateMeRequest.js';
import type { ResetPasswordRequest__Output } from '../../gen/ts/auth/v1/ResetPasswordRequest.js';
import type { SetUserRolesRequest__Output } from '../../gen/ts/auth/v1/SetUserRolesRequest.js';
import type { ListUsersRequest__Output } from '../../gen/ts/auth/v1/ListUsersRequest.js';
import type { LoginRequest__Output } from '../../gen/ts/auth/v1/LoginRequest.js';
import type { LogoutRequest__Output } from '../../gen/ts/auth/v1/LogoutRequest.js';
import type { RefreshRequest__Output } from '../../gen/ts/auth/v1/RefreshRequest.js';
import type { RegisterRequest__Output } from '../../gen/ts/auth/v1/RegisterRequest.js';
import { read, write, type MethodImpl } from '../../lib/grpc/handler.js';
import type { AuthDomain } from './domain/index.js';

/**
 * `?expired`, `?expired=true`, `?expired=1` ask for an expired token; absent,
 * "false" or "0" do not. Envoy's transcoder drops a query parameter without a
 * value, so a bare `?expired` is read from the original path it passes on
 * (x-envoy-original-path); all that header can change is this flag.
 */
export function wantsExpired(req: AuthRequest__Output, originalPath?: string): boolean {
  let value: string | null | undefined = req.expired;
  if ((value === undefined || value === null) && originalPath?.includes('?')) {
    value = new URLSearchParams(originalPath.slice(originalPath.indexOf('?') + 1)).get('expired');
  }
  if (value === undefined || value === null) return false;
  const normalised = value.trim().toLowerCase();
  return normalised !== 'false' && normalised !== '0';
}

/** How long clients may keep the JWKS: as long as Envoy does (JWKS_CACHE_S), which the key schedule allows for. */
export function jwksCacheControl(domain: AuthDomain): string {
  return `public, max-age=${domain.keys.policy.jwksCache}`;
}

export function authServiceHandlers(domain: AuthDomain): Record<string, MethodImpl> {
  return {
    Register: write(async (ctx, req: RegisterRequest__Output) => {
      const caller = await ctx.optionalIdentity();
      return domain.register(req, caller);
    }),
    Login: write((ctx, req: LoginRequest__Output) => domain.login(req, { ip: ctx.clientIp, method: 'login' })),
    Auth: write((ctx, req: AuthRequest__Output) =>
      domain.login(req.credentials ?? {}, {
        ip: ctx.clientIp,
        method: 'auth',
        expired: wantsExpired(req, ctx.metadata.get('x-envoy-original-path')[0]?.toString()),
      }),
    ),
    Token: write((ctx, req: RefreshRequest__Output) => domain.refresh(req, { ip: ctx.clientIp })),
    Logout: write((ctx, req: LogoutRequest__Output) => domain.logout(req, { ip: ctx.clientIp })),
    ChangePassword: write(async (ctx, req: ChangePasswordRequest__Output) =>
      domain.changePassword((await ctx.identity()).userId, req, { ip: ctx.clientIp }),
    ),
    ResetPassword: write(async (ctx, req: ResetPasswordRequest__Output) =>
      domain.resetPassword(await ctx.identity(), req, { ip: ctx.clientIp }),
    ),
    SetUserRoles: write(async (ctx, req: SetUserRolesRequest__Output) => domain.setUserRoles(await ctx.identity(), req)),
    UpdateMe: write(async (ctx, req: UpdateMeRequest__Output) => domain.updateMe((await ctx.identity()).userId, req)),
    Me: read(async (ctx) => domain.me((await ctx.identity()).userId)),
    ListAuthLogs: read(async (ctx, req: ListAuthLogsRequest__Output) => domain.listAuthLogs(await ctx.identity(), req)),
    GetJwks: read(async (ctx) => {
      ctx.setHeader('cache-control', jwksCacheControl(domain));
      return domain.jwks();
    }),
  };
}

/** Node-to-node: the enrollment service mirrors users from here. Not routed by Envoy. */
export function userDirectoryHandlers(domain: AuthDomain): Record<string, MethodImpl> {
  return {
    // The primary's enrollment service polls this every 2 s (services/enroll/main.ts).
    ListUsers: read(async (_ctx, req: ListUsersRequest__Output) => ({ users: domain.listUsersAfter(req.after_id, req.page_size) }), { quiet: true }),
    // Polled with ListUsers.
    ListUserChanges: read(
      async (_ctx, req: ListUserChangesRequest__Output) => ({ changes: domain.userChangesAfter(req.after_seq, req.page_size) }),
      { quiet: true },
    ),
  };
}

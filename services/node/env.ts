// The environment each service of a node starts with.
import { availableParallelism } from 'node:os';

/**
 * The auth service spends nearly all its CPU in argon2id, which runs on
 * libuv's thread pool (4 threads by default). On a 2-core VM, logins at 8 in
 * flight ran at 0.771 and 0.773 of the raw verify rate with 2 threads, against
 * 0.757 and 0.746 with 4 (docs/DESIGN.md, "Logins that check their passwords
 * together commit together"). So unless UV_THREADPOOL_SIZE is set, the auth
 * service gets one pool thread per core, and at least two, so that one long
 * hash never holds the whole pool.
 */
export function authThreadPoolSize(cores: number = availableParallelism()): number {
  return Math.max(2, cores);
}

/**
 * The auth service's secrets (the first registrar's password, the key that
 * encrypts the signing keys) and where they are kept: no other service needs
 * them, so no other service's environment holds them.
 */
export const AUTH_ONLY_ENV = ['REGISTRAR_PASSWORD', 'REGISTRAR_FILE', 'AUTH_KEY_ENCRYPTION_KEY', 'AUTH_KEY_ENCRYPTION_KEY_FILE'] as const;

/**
 * The environment of service `name`: this process's, plus the auth service's
 * pool size for auth, and without the auth service's secrets for any other.
 */
export function serviceEnv(name: string, env: NodeJS.ProcessEnv, cores?: number): NodeJS.ProcessEnv {
  if (name !== 'auth') {
    const rest = { ...env };
    for (const key of AUTH_ONLY_ENV) delete rest[key];
    return rest;
  }
  if (env.UV_THREADPOOL_SIZE !== undefined) return env;
  return { ...env, UV_THREADPOOL_SIZE: String(authThreadPoolSize(cores)) };
}

/** A process's libuv pool size as logs and reports state it: UV_THREADPOOL_SIZE, else libuv's default. */
export function threadPoolSize(env: NodeJS.ProcessEnv): string {
  return env.UV_THREADPOOL_SIZE ?? '4 (libuv default)';
}

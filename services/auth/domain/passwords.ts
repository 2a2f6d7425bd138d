/**
 * Password hashing: argon2id at (at least) the OWASP minimum parameters.
 */
import { randomUUID } from 'node:crypto';
import argon2 from 'argon2';

/** OWASP Password Storage Cheat Sheet minimum for argon2id: 19 MiB, 2 passes, 1 lane. */
export const ARGON2_PARAMS = {
  type: argon2.argon2id,
  memoryCost: 19456, // KiB
  timeCost: 2,
  parallelism: 1,
  hashLength: 32,
} as const;

/**
 * A hash of a random password nobody knows, made with ARGON2_PARAMS (a unit
 * test checks they agree). Login verifies against it when the username is
 * unknown, so an unknown user costs the same time as a wrong password.
 */
export const DUMMY_HASH =
  '$argon2id$v=19$m=19456,p=1,t=2$W+XUAR5wPxAa652hg1bBBg$DOr74NfNJB9IL+M8G4pORl9zmxK5Euvg3fYaZoKii6w';

export function hashPassword(password: string): Promise<string> {
  return argon2.hash(password, ARGON2_PARAMS);
}

/** True when `password` matches `hash`; false for a mismatch or a malformed hash. */
export async function verifyPassword(hash: string, password: string): Promise<boolean> {
  try {
    return await argon2.verify(hash, password);
  } catch {
    return false;
  }
}

/** A generated password is a UUIDv4 (the original spec). */
export function generatePassword(): string {
  return randomUUID();
}

/** The m, t, p parameters of a PHC-format argon2 hash, whatever their order. */
export function argon2Params(hash: string): { algorithm: string; version: number; m: number; t: number; p: number } {
  const [, algorithm = '', v = '', params = ''] = hash.split('$');
  const map = new Map(params.split(',').map((kv) => kv.split('=') as [string, string]));
  return {
    algorithm,
    version: Number(v.replace('v=', '')),
    m: Number(map.get('m')),
    t: Number(map.get('t')),
    p: Number(map.get('p')),
  };
}

/**
 * Checks on registration input. Each failure is INVALID_ARGUMENT naming the field.
 */
import { invalidArgument } from '../../../lib/errors.js';
import { CONTROL_CHARACTERS_REFUSED, hasControlCharacters } from '../../../lib/text.js';

export const ROLES = ['student', 'instructor', 'registrar'] as const;
export type Role = (typeof ROLES)[number];
/** Roles anyone may give themselves at registration. */
export const SELF_SERVICE_ROLES: readonly Role[] = ['student'];

const USERNAME = /^[A-Za-z0-9._-]{3,64}$/;
// Plausible, not RFC 5322: one @, no whitespace, a dot in the domain.
const EMAIL = /^[^\s@]{1,64}@[^\s@.]+(\.[^\s@.]+)+$/;

export const MAX_EMAIL = 254;
export const MAX_NAME = 100;
export const MIN_PASSWORD = 8;
export const MAX_PASSWORD = 128;

export function checkUsername(username: unknown): string {
  if (typeof username !== 'string' || username === '') throw invalidArgument('username', 'required');
  if (!USERNAME.test(username)) {
    throw invalidArgument('username', 'must be 3 to 64 characters of letters, digits, ".", "_" or "-"');
  }
  return username;
}

export function checkEmail(email: unknown): string {
  if (typeof email !== 'string' || email === '') throw invalidArgument('email', 'required');
  if (email.length > MAX_EMAIL || !EMAIL.test(email)) throw invalidArgument('email', 'not a valid email address');
  return email;
}

/** A first or last name: optional, trimmed as the enrollment service trims its text fields. */
export function checkName(field: 'first_name' | 'last_name', name: unknown): string {
  if (name === undefined || name === null) return '';
  if (typeof name !== 'string') throw invalidArgument(field, 'must be a string');
  const trimmed = name.trim();
  if (trimmed.length > MAX_NAME) throw invalidArgument(field, `must be at most ${MAX_NAME} characters`);
  if (hasControlCharacters(trimmed)) throw invalidArgument(field, CONTROL_CHARACTERS_REFUSED);
  return trimmed;
}

/** An empty or missing password means "generate one": returns undefined. */
export function checkPassword(password: unknown, field = 'password'): string | undefined {
  if (password === undefined || password === null || password === '') return undefined;
  if (typeof password !== 'string') throw invalidArgument(field, 'must be a string');
  if (password.length < MIN_PASSWORD || password.length > MAX_PASSWORD) {
    throw invalidArgument(field, `must be ${MIN_PASSWORD} to ${MAX_PASSWORD} characters`);
  }
  return password;
}

/** Known roles, deduplicated, in the canonical order; empty means ["student"]. */
export function checkRoles(roles: unknown): Role[] {
  if (roles === undefined || roles === null) return ['student'];
  if (!Array.isArray(roles)) throw invalidArgument('roles', 'must be a list');
  for (const r of roles) {
    if (!(ROLES as readonly unknown[]).includes(r)) {
      throw invalidArgument('roles', `unknown role ${JSON.stringify(String(r)).slice(0, 40)}; known: ${ROLES.join(', ')}`);
    }
  }
  if (roles.length === 0) return ['student'];
  return ROLES.filter((r) => roles.includes(r));
}

/** Roles stored as JSON text; anything unreadable counts as no roles. */
export function parseRoles(json: string): string[] {
  try {
    const value: unknown = JSON.parse(json);
    return Array.isArray(value) ? value.filter((r): r is string => typeof r === 'string') : [];
  } catch {
    return [];
  }
}

/** Who is calling, and the permission checks every operation builds on. */
import { permissionDenied } from '../../../lib/errors.js';

/** The authenticated caller, as the transport extracted it from the token. */
export type Actor = { userId: number; username: string; roles: string[] };

export const REGISTRAR = 'registrar';
export const INSTRUCTOR = 'instructor';
export const STUDENT = 'student';

export function hasRole(actor: Actor, role: string): boolean {
  return actor.roles.includes(role);
}

export function isRegistrar(actor: Actor): boolean {
  return hasRole(actor, REGISTRAR);
}

export function requireRegistrar(actor: Actor): void {
  if (!isRegistrar(actor)) throw permissionDenied('registrar only');
}

/** A user's own data: the user themself or the registrar. */
export function requireSelfOrRegistrar(actor: Actor, userId: number): void {
  if (actor.userId !== userId && !isRegistrar(actor)) throw permissionDenied('only the user themself or the registrar');
}

/**
 * Section staff: the registrar, or an instructor who teaches the section.
 * Call with the section's instructor once it is known; callers that have not
 * loaded it yet use `couldBeSectionStaff` to refuse students without a lookup.
 */
export function requireSectionStaff(actor: Actor, instructorId: number): void {
  if (isRegistrar(actor)) return;
  if (hasRole(actor, INSTRUCTOR) && actor.userId === instructorId) return;
  throw permissionDenied("only the section's instructor or the registrar");
}

export function couldBeSectionStaff(actor: Actor): void {
  if (!isRegistrar(actor) && !hasRole(actor, INSTRUCTOR)) {
    throw permissionDenied("only the section's instructor or the registrar");
  }
}

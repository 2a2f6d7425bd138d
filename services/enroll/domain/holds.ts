/**
 * Registration holds: the registrar stops a student (an unpaid fee, a missing
 * form) from adding sections themself, and from being moved into a seat from
 * a waitlist, until the hold is released. The student keeps every seat and
 * place in line they have, may drop and leave lines, and sees why. The
 * registrar may still enroll them. Releasing a student's last hold walks the
 * lines they are on, as a grade or a drop does, so a seat left free while the
 * hold stood goes to them if they come first.
 */
import { failedPrecondition, notFound } from '../../../lib/errors.js';
import type { CreateUserHoldRequest } from '../../../gen/ts/enroll/v1/CreateUserHoldRequest.js';
import type { DeleteUserHoldRequest } from '../../../gen/ts/enroll/v1/DeleteUserHoldRequest.js';
import type { ListUserHoldsRequest } from '../../../gen/ts/enroll/v1/ListUserHoldsRequest.js';
import type { ListUserHoldsResponse__Output } from '../../../gen/ts/enroll/v1/ListUserHoldsResponse.js';
import type { RegistrationHold__Output } from '../../../gen/ts/enroll/v1/RegistrationHold.js';
import type { HoldRow } from '../store/rows.js';
import type { EnrollStore } from '../store/store.js';
import { requireRegistrar, requireSelfOrRegistrar, type Actor } from './actor.js';
import type { DomainContext } from './context.js';
import { requireListedUser, requireStudent } from './lookups.js';
import { enrollRead, enrollWrite } from './operations.js';
import { promoteWaitlistsOf } from './promotion.js';
import { requireId, requireText } from './validate.js';

/** The longest reason a hold may give. */
export const MAX_HOLD_REASON = 200;

function toHold(row: HoldRow): RegistrationHold__Output {
  return {
    id: row.id,
    user_id: row.user_id,
    reason: row.reason,
    placed_by: row.placed_by,
    placed_at: row.placed_at,
    released_by: row.released_by ?? 0,
    released_at: row.released_at ?? '',
  };
}

/** Inside a write: FAILED_PRECONDITION, with the hold's reason, when the student has an active hold. */
export function requireNoHold(store: EnrollStore, userId: number): void {
  const hold = store.holds.firstActive(userId);
  if (hold) throw failedPrecondition(`user ${userId} has a registration hold (${hold.reason}); until the registrar releases it, only the registrar adds their sections`);
}

/** The student themself or the registrar: the active holds, oldest first. */
export async function listUserHolds(ctx: DomainContext, actor: Actor, req: ListUserHoldsRequest): Promise<ListUserHoldsResponse__Output> {
  const userId = requireId('user_id', req.user_id);
  requireSelfOrRegistrar(actor, userId);
  return { holds: await ctx.query(readHolds, { actor, userId }) };
}

const readHolds = enrollRead('listUserHolds', (store, q: { actor: Actor; userId: number }) => {
  requireListedUser(q.actor, store, q.userId);
  return store.holds.active(q.userId).map(toHold);
});

/** Registrar only: a hold on a student, with the reason they are shown. */
export async function createUserHold(ctx: DomainContext, actor: Actor, req: CreateUserHoldRequest): Promise<RegistrationHold__Output> {
  requireRegistrar(actor);
  const userId = requireId('user_id', req.user_id);
  const reason = requireText('reason', req.reason, MAX_HOLD_REASON);
  await ctx.ensureUsersKnown(userId, actor.userId);
  return ctx.write(placeHold, { userId, reason, by: actor.userId, at: ctx.now() });
}

const placeHold = enrollWrite('createUserHold', (store, a: { userId: number; reason: string; by: number; at: string }) => {
  requireStudent(store, a.userId);
  return toHold(store.holds.get(store.holds.place(a.userId, a.reason, a.by, a.at))!);
});

/** Registrar only: releases a hold (NOT_FOUND if it is not an active hold of that user). */
export async function deleteUserHold(ctx: DomainContext, actor: Actor, req: DeleteUserHoldRequest): Promise<RegistrationHold__Output> {
  requireRegistrar(actor);
  const userId = requireId('user_id', req.user_id);
  const holdId = requireId('hold_id', req.hold_id);
  await ctx.ensureUsersKnown(actor.userId);
  return ctx.write(releaseHold, { userId, holdId, by: actor.userId, at: ctx.now() });
}

const releaseHold = enrollWrite('deleteUserHold', (store, a: { userId: number; holdId: number; by: number; at: string }) => {
  const hold = store.holds.get(a.holdId);
  if (!hold || hold.user_id !== a.userId || !store.holds.release(a.holdId, a.by, a.at)) {
    throw notFound(`active hold ${a.holdId} of user ${a.userId}`);
  }
  // The last hold gone, the student may take a seat they wait for.
  if (!store.holds.firstActive(a.userId)) promoteWaitlistsOf(store, [a.userId]);
  return toHold(store.holds.get(a.holdId)!);
});

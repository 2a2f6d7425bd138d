/**
 * The registration period: when students may add and drop sections
 * themselves. The registrar sets it and is not bound by it, nor are an
 * instructor's drops, grades, or a student leaving a waitlist (which only
 * gives up a claim). With no bounds, the default, registration is always open.
 */
import { failedPrecondition, invalidArgument } from '../../../lib/errors.js';
import type { GetRegistrationPeriodRequest } from '../../../gen/ts/enroll/v1/GetRegistrationPeriodRequest.js';
import type { RegistrationPeriod__Output } from '../../../gen/ts/enroll/v1/RegistrationPeriod.js';
import type { SetRegistrationPeriodRequest } from '../../../gen/ts/enroll/v1/SetRegistrationPeriodRequest.js';
import type { RegistrationPeriodRow } from '../store/rows.js';
import type { EnrollStore } from '../store/store.js';
import { isRegistrar, requireRegistrar, type Actor } from './actor.js';
import type { DomainContext } from './context.js';
import { enrollRead, enrollWrite } from './operations.js';
import { optionalTimestamp } from './validate.js';

/** Why students may not add or drop at `now` (RFC 3339, UTC), or undefined when they may. */
function closedBecause(p: RegistrationPeriodRow, now: string): string | undefined {
  if (p.opens_at !== null && now < p.opens_at) return `registration opens at ${p.opens_at}; until then only the registrar adds and drops`;
  if (p.closes_at !== null && now >= p.closes_at) return `registration closed at ${p.closes_at}; since then only the registrar adds and drops`;
  return undefined;
}

function toPeriod(p: RegistrationPeriodRow, now: string): RegistrationPeriod__Output {
  return { opens_at: p.opens_at ?? '', closes_at: p.closes_at ?? '', open: closedBecause(p, now) === undefined };
}

/**
 * The time at which the period applies to `actor`'s own adds and drops, or
 * null for the registrar. Taken before the write, passed to it as an argument.
 */
export function periodCheckTime(ctx: DomainContext, actor: Actor): string | null {
  return isRegistrar(actor) ? null : ctx.now();
}

/** Inside a write: FAILED_PRECONDITION when `now` (if not null) is outside the period. */
export function requirePeriodOpen(store: EnrollStore, now: string | null): void {
  if (now === null) return;
  const reason = closedBecause(store.registration.getPeriod(), now);
  if (reason) throw failedPrecondition(reason);
}

export async function getRegistrationPeriod(
  ctx: DomainContext,
  _actor: Actor,
  _req: GetRegistrationPeriodRequest,
): Promise<RegistrationPeriod__Output> {
  const now = ctx.now();
  return toPeriod(await ctx.query(readPeriod, null), now);
}

const readPeriod = enrollRead('getRegistrationPeriod', (store) => store.registration.getPeriod());

/** Registrar only: both bounds are replaced. */
export async function setRegistrationPeriod(
  ctx: DomainContext,
  actor: Actor,
  req: SetRegistrationPeriodRequest,
): Promise<RegistrationPeriod__Output> {
  requireRegistrar(actor);
  const period: RegistrationPeriodRow = {
    opens_at: optionalTimestamp('opens_at', req.opens_at),
    closes_at: optionalTimestamp('closes_at', req.closes_at),
  };
  if (period.opens_at !== null && period.closes_at !== null && period.opens_at >= period.closes_at) {
    throw invalidArgument('closes_at', 'must come after opens_at');
  }
  await ctx.write(replacePeriod, period);
  return toPeriod(period, ctx.now());
}

const replacePeriod = enrollWrite('setRegistrationPeriod', (store, period: RegistrationPeriodRow) => {
  store.registration.setPeriod(period);
});

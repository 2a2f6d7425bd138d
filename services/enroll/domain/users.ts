/** The local copy of users, and the sections a user attends or teaches. */
import { invalidArgument } from '../../../lib/errors.js';
import type { GetUserRequest } from '../../../gen/ts/enroll/v1/GetUserRequest.js';
import type { ListSectionsResponse__Output } from '../../../gen/ts/enroll/v1/ListSectionsResponse.js';
import type { ListUserSectionsRequest } from '../../../gen/ts/enroll/v1/ListUserSectionsRequest.js';
import type { ListUsersRequest } from '../../../gen/ts/enroll/v1/ListUsersRequest.js';
import type { ListUsersResponse__Output } from '../../../gen/ts/enroll/v1/ListUsersResponse.js';
import type { User__Output } from '../../../gen/ts/enroll/v1/User.js';
import { requireRegistrar, requireSelfOrRegistrar, type Actor } from './actor.js';
import type { DomainContext } from './context.js';
import { toSection, toUser } from './convert.js';
import { requireListedUser, requireUser } from './lookups.js';
import { readPage, toPage } from './pagination.js';
import { requireId } from './validate.js';

/** Registrar only; ordered by id. */
export async function listUsers(ctx: DomainContext, actor: Actor, req: ListUsersRequest): Promise<ListUsersResponse__Output> {
  requireRegistrar(actor);
  const cursor = readPage('user', 1, req);
  const rows = ctx.read().users.listUsers(cursor.afterId, cursor.limit);
  const page = toPage(cursor, rows, (r) => [r.id]);
  return { users: page.rows.map(toUser), next_page_token: page.next_page_token };
}

/** The user themself or the registrar. */
export async function getUser(ctx: DomainContext, actor: Actor, req: GetUserRequest): Promise<User__Output> {
  const userId = requireId('user_id', req.user_id);
  requireSelfOrRegistrar(actor, userId);
  return toUser(requireUser(ctx.read(), userId));
}

/** "enrolled" (default): sections the user is enrolled in; "instructing": sections they teach. */
export async function listUserSections(
  ctx: DomainContext,
  actor: Actor,
  req: ListUserSectionsRequest,
): Promise<ListSectionsResponse__Output> {
  const userId = requireId('user_id', req.user_id);
  const type = req.type || 'enrolled';
  if (type !== 'enrolled' && type !== 'instructing') throw invalidArgument('type', 'must be "enrolled" or "instructing"');
  const cursor = readPage('user-sections', 1, req);
  requireSelfOrRegistrar(actor, userId);
  const store = ctx.read();
  requireListedUser(actor, store, userId);
  const rows =
    type === 'enrolled'
      ? store.sections.listStudentSections(userId, cursor.afterId, cursor.limit)
      : store.sections.listInstructorSections(userId, cursor.afterId, cursor.limit);
  const page = toPage(cursor, rows, (r) => [r.id]);
  return { sections: page.rows.map(toSection), next_page_token: page.next_page_token };
}

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
import { enrollRead } from './operations.js';
import { toSection, toUser } from './convert.js';
import { requireListedUser, requireUser } from './lookups.js';
import { readPage, toPage } from '../../../lib/pagination.js';
import { requireId, sectionView } from './validate.js';

/** Registrar only; ordered by id. */
export async function listUsers(ctx: DomainContext, actor: Actor, req: ListUsersRequest): Promise<ListUsersResponse__Output> {
  requireRegistrar(actor);
  const cursor = readPage('user', 1, req);
  const rows = await ctx.query(readUsers, { afterId: cursor.afterId, limit: cursor.limit });
  const page = toPage(cursor, rows, (r) => [r.id]);
  return { users: page.rows.map(toUser), next_page_token: page.next_page_token };
}

/** The user themself or the registrar. */
export async function getUser(ctx: DomainContext, actor: Actor, req: GetUserRequest): Promise<User__Output> {
  const userId = requireId('user_id', req.user_id);
  requireSelfOrRegistrar(actor, userId);
  return ctx.query(readUser, userId);
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
  const view = sectionView(req.view, 'basic');
  const cursor = readPage('user-sections', 1, req);
  requireSelfOrRegistrar(actor, userId);
  const rows = await ctx.query(readUserSections, { actor, userId, type, afterId: cursor.afterId, limit: cursor.limit });
  const page = toPage(cursor, rows, (r) => [r.id]);
  return { sections: page.rows.map((r) => toSection(r, view)), next_page_token: page.next_page_token };
}

const readUsers = enrollRead('listUsers', (store, { afterId, limit }: { afterId: number; limit: number }) => store.users.listUsers(afterId, limit));

const readUser = enrollRead('getUser', (store, userId: number) => toUser(requireUser(store, userId)));

const readUserSections = enrollRead(
  'listUserSections',
  (store, a: { actor: Actor; userId: number; type: 'enrolled' | 'instructing'; afterId: number; limit: number }) => {
    requireListedUser(a.actor, store, a.userId);
    return a.type === 'enrolled'
      ? store.sections.listStudentSections(a.userId, a.afterId, a.limit)
      : store.sections.listInstructorSections(a.userId, a.afterId, a.limit);
  },
);

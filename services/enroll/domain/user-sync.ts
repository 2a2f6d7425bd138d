/** Mirroring the auth service's users into the local users table. */
import type { WriteFn } from '../../../lib/writer.js';
import type { EnrollStore } from '../store/store.js';
import { enrollWrite } from './operations.js';

export interface DirectoryUser {
  id: number;
  username: string;
  first_name: string;
  last_name: string;
  roles: string[];
}

/** A change to a user (roles, names), numbered by the auth service, with the user as they are now. */
export interface UserChange {
  seq: number;
  user: DirectoryUser;
}

/** The auth service's user list, in id order, and its changes to users, in seq order. Each may return one page at a time. */
export interface UserDirectory {
  usersAfter(afterId: number): Promise<DirectoryUser[]>;
  userChangesAfter(afterSeq: number): Promise<UserChange[]>;
}

/** Guards against a directory that never returns an empty page. */
const MAX_BATCHES = 10_000;

/**
 * Fetches every user with id above the newest local one, then inserts them
 * all in one write. Returns how many were new.
 */
export async function syncUsersOnce(
  directory: UserDirectory,
  readStore: EnrollStore,
  write: WriteFn,
): Promise<number> {
  // The read handle may lag the primary: then we fetch a few users twice,
  // which the insert ignores.
  let after = readStore.users.maxUserId();
  const fetched: DirectoryUser[] = [];
  for (let i = 0; i < MAX_BATCHES; i++) {
    const batch = await directory.usersAfter(after);
    const newer = batch.filter((u) => u.id > after);
    if (newer.length === 0) break;
    fetched.push(...newer);
    after = newer.reduce((max, u) => Math.max(max, u.id), after);
  }
  if (fetched.length === 0) return 0;
  return write(insertUsers, fetched);
}

const toUserRow = (u: DirectoryUser) => ({ id: u.id, username: u.username, first_name: u.first_name, last_name: u.last_name, roles: JSON.stringify(u.roles) });

/** Inserts the users not there yet; returns how many were. */
const insertUsers = enrollWrite('insertUsers', (store, users: DirectoryUser[]) => {
  let added = 0;
  for (const u of users) if (store.users.insertUser(toUserRow(u))) added++;
  return added;
});

/**
 * Fetches the changes to users after the last one applied here and applies
 * them in one write: each user in the copy gets their names and roles as
 * they are now (a user not in the copy yet will arrive with them). Returns
 * how many changes.
 */
export async function syncUserChangesOnce(directory: UserDirectory, readStore: EnrollStore, write: WriteFn): Promise<number> {
  let after = readStore.users.userChangeSeq();
  const fetched: UserChange[] = [];
  for (let i = 0; i < MAX_BATCHES; i++) {
    const batch = (await directory.userChangesAfter(after)).filter((c) => c.seq > after);
    if (batch.length === 0) break;
    fetched.push(...batch);
    after = batch.reduce((max, c) => Math.max(max, c.seq), after);
  }
  if (fetched.length === 0) return 0;
  await write(applyUserChanges, { changes: fetched, upTo: after });
  return fetched.length;
}

const applyUserChanges = enrollWrite('applyUserChanges', (store, a: { changes: UserChange[]; upTo: number }) => {
  for (const { user } of a.changes) store.users.updateUser(toUserRow(user));
  store.users.setUserChangeSeq(a.upTo);
});

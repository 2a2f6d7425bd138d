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

/** A change of a user's roles, numbered by the auth service, with the roles as they are now. */
export interface RoleChange {
  seq: number;
  userId: number;
  roles: string[];
}

/** The auth service's user list, in id order, and its role changes, in seq order. Each may return one page at a time. */
export interface UserDirectory {
  usersAfter(afterId: number): Promise<DirectoryUser[]>;
  roleChangesAfter(afterSeq: number): Promise<RoleChange[]>;
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

/** Inserts the users not there yet; returns how many were. */
const insertUsers = enrollWrite('insertUsers', (store, users: DirectoryUser[]) => {
  let added = 0;
  for (const u of users) {
    const row = { id: u.id, username: u.username, first_name: u.first_name, last_name: u.last_name, roles: JSON.stringify(u.roles) };
    if (store.users.insertUser(row)) added++;
  }
  return added;
});

/**
 * Fetches the role changes after the last one applied here and applies them
 * in one write: each user in the copy gets their roles as they are now (a
 * user not in the copy yet will arrive with them). Returns how many changes.
 */
export async function syncRoleChangesOnce(directory: UserDirectory, readStore: EnrollStore, write: WriteFn): Promise<number> {
  let after = readStore.users.roleSyncSeq();
  const fetched: RoleChange[] = [];
  for (let i = 0; i < MAX_BATCHES; i++) {
    const batch = (await directory.roleChangesAfter(after)).filter((c) => c.seq > after);
    if (batch.length === 0) break;
    fetched.push(...batch);
    after = batch.reduce((max, c) => Math.max(max, c.seq), after);
  }
  if (fetched.length === 0) return 0;
  await write(applyRoleChanges, { changes: fetched, upTo: after });
  return fetched.length;
}

const applyRoleChanges = enrollWrite('applyRoleChanges', (store, a: { changes: RoleChange[]; upTo: number }) => {
  for (const c of a.changes) store.users.setRoles(c.userId, JSON.stringify(c.roles));
  store.users.setRoleSyncSeq(a.upTo);
});

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

/** The auth service's user list, in id order. May return one page at a time. */
export interface UserDirectory {
  usersAfter(afterId: number): Promise<DirectoryUser[]>;
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

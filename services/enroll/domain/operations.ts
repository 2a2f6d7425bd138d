/**
 * Stores per connection, and how this service defines its read and write
 * operations.
 */
import type Database from 'better-sqlite3';
import { defineRead, type ReadOp } from '../../../lib/reader.js';
import { defineWrite, type WriteOp } from '../../../lib/writer.js';
import { createEnrollStore, type EnrollStore } from '../store/store.js';

// Statements belong to a connection, and the read and write handles are
// different connections: one store per Database, prepared on first use.
const stores = new WeakMap<Database.Database, EnrollStore>();

export function storeFor(db: Database.Database): EnrollStore {
  let store = stores.get(db);
  if (!store) {
    store = createEnrollStore(db);
    stores.set(db, store);
  }
  return store;
}

/**
 * Defines a write operation of this service (named `enroll.<name>`): `run`
 * gets the store on the write connection and the plain arguments it was sent.
 * It may run on the primary's writer thread, so it uses nothing else.
 */
export function enrollWrite<A, R>(name: string, run: (store: EnrollStore, args: A) => R): WriteOp<A, R> {
  return defineWrite(`enroll.${name}`, (db, args: A) => run(storeFor(db), args));
}

/**
 * Defines a read operation of this service (named `enroll.<name>`): `run`
 * gets the store on a read connection and the plain arguments it was sent,
 * and returns plain data. It may run on the node's reader thread, so it uses
 * nothing else; what needs no data (the caller's role, the request's shape)
 * is checked before it is called.
 */
export function enrollRead<A, R>(name: string, run: (store: EnrollStore, args: A) => R): ReadOp<A, R> {
  return defineRead(`enroll.${name}`, (db, args: A) => run(storeFor(db), args));
}

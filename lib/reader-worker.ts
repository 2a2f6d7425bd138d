/**
 * The reader thread's entry (see reader-thread.ts): opens a read-only
 * connection, imports the modules that define the service's read operations,
 * and runs the reads of each message in one read transaction.
 */
import { workerData } from 'node:worker_threads';
import { serveOps, toWire } from './op-thread.js';
import { readOpNamed } from './reader.js';
import type { ReaderThreadData } from './reader-thread.js';
import { openReadOnly } from './sqlite.js';

const data = workerData as ReaderThreadData;
for (const module of data.opsModules) await import(module);

const db = openReadOnly(data.path);
const begin = db.prepare('BEGIN');
const commit = db.prepare('COMMIT');

serveOps<unknown>((calls, answer) => {
  // BEGIN takes no lock: the first read does, and it holds for every read below.
  begin.run();
  try {
    for (const { id, op: name, args } of calls) {
      const op = readOpNamed(name);
      if (!op) {
        answer({ id, error: { kind: 'other', message: `unknown read operation ${name}` } });
        continue;
      }
      try {
        answer({ id, value: op.run(db, args) });
      } catch (err) {
        answer({ id, error: toWire(err) });
      }
    }
  } finally {
    // Ends the snapshot now: LiteFS applies a replicated transaction only while no reader holds one.
    if (db.inTransaction) commit.run();
  }
}, 'the result of the read could not be sent back');

/**
 * The writer thread's entry (see writer-thread.ts): opens the write
 * connection, imports the modules that define the service's write operations,
 * and runs the calls it is sent through the same writer as the event-loop
 * writer (`writer.ts`, group commit or one transaction each), reading the TXID
 * of each commit from the database's `-pos` file.
 */
import { workerData } from 'node:worker_threads';
import { PositionFile } from './litefs.js';
import { serveOps, toWire } from './op-thread.js';
import { openWritable } from './sqlite.js';
import { createWriter, writeOpNamed, type WriteResult } from './writer.js';
import type { WriterThreadData } from './writer-thread.js';

const data = workerData as WriterThreadData;
for (const module of data.opsModules) await import(module);

// The main thread has already migrated the file; this only configures the connection.
const db = openWritable(data.path, []);
const pos = new PositionFile(`${data.path}-pos`);
const writer = createWriter(db, { mode: data.mode, maxBatch: data.maxBatch, delayMs: data.delayMs, position: () => pos.read() });

serveOps<WriteResult<unknown>>((calls, answer) => {
  for (const { id, op: name, args } of calls) {
    const op = writeOpNamed(name);
    if (!op) {
      answer({ id, error: { kind: 'other', message: `unknown write operation ${name}` } });
      continue;
    }
    writer.run(op, args).then(
      (value) => answer({ id, value }),
      (err: unknown) => answer({ id, error: toWire(err) }),
    );
  }
}, 'the write committed, but its result could not be sent back');

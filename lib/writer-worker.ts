/**
 * The writer thread's entry (see writer-thread.ts): opens the write
 * connection, imports the modules that define the service's write operations,
 * and runs the calls it is sent through the same writer as the event-loop
 * writer (`writer.ts`, group commit or one transaction each), reading the TXID
 * of each commit from the database's `-pos` file.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { PositionFile } from './litefs.js';
import { openWritable } from './sqlite.js';
import { turnOutbox } from './turn-outbox.js';
import { createWriter, writeOpNamed } from './writer.js';
import { toWire, type WriteAnswers, type WriteCalls, type WriterThreadData } from './writer-thread.js';

const data = workerData as WriterThreadData;
const port = parentPort!;
for (const module of data.opsModules) await import(module);

// The main thread has already migrated the file; this only configures the connection.
const db = openWritable(data.path, []);
const pos = new PositionFile(`${data.path}-pos`);
const writer = createWriter(db, { mode: data.mode, maxBatch: data.maxBatch, delayMs: data.delayMs, position: () => pos.read() });

const answer = turnOutbox<WriteAnswers['answers'][number]>((answers) => {
  try {
    port.postMessage({ answers } satisfies WriteAnswers);
  } catch {
    // A value that cannot be cloned (a bug in an operation) must not cost
    // the other answers of the turn: send them one by one.
    for (const a of answers) {
      try {
        port.postMessage({ answers: [a] } satisfies WriteAnswers);
      } catch {
        port.postMessage({ answers: [{ id: a.id, error: { kind: 'other', message: 'the write committed, but its result could not be sent back' } }] } satisfies WriteAnswers);
      }
    }
  }
});

port.on('message', ({ calls }: WriteCalls) => {
  for (const { id, op: name, args } of calls) {
    const op = writeOpNamed(name);
    if (!op) {
      answer({ id, error: { kind: 'other', message: `unknown write operation ${name}` } });
      continue;
    }
    writer.run(op, args).then(
      ({ value, txid }) => answer({ id, value, txid }),
      (err: unknown) => answer({ id, error: toWire(err) }),
    );
  }
});

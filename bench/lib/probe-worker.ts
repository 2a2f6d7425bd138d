/**
 * A probe's thread (see probe.ts): reads, pauses, reads again until told to
 * stop, then sends back what it measured.
 */
import * as grpc from '@grpc/grpc-js';
import { parentPort, workerData } from 'node:worker_threads';
import { echoCall } from './echo-server.js';
import { sleep } from './load.js';
import { PROBE_WARMUP_READS, type Probe, type ProbeMessage, type ProbeSpec, type ProbeTarget } from './probe.js';
import { grpcVia, httpVia } from './vias.js';

const spec = workerData as ProbeSpec;
const port = parentPort!;

/** What one read is at `target`, and how to close its connection. */
function reader(target: ProbeTarget): { read(): Promise<unknown>; close(): void } {
  if (target.kind === 'echo') {
    const client = new grpc.Client(target.address, grpc.credentials.createInsecure());
    const payload = Buffer.alloc(1024, 'x');
    return { read: () => echoCall(client, payload), close: () => client.close() };
  }
  const via = target.kind === 'http' ? httpVia(target.name, target.base) : grpcVia(target.name, target.address);
  return { read: () => via.catalogue(spec.token, spec.pageSize), close: () => via.close() };
}

const source = reader(spec.target);
let running = true;
port.once('message', () => {
  running = false;
});

for (let i = 0; i < PROBE_WARMUP_READS; i++) await source.read();
port.postMessage({ ready: true } satisfies ProbeMessage);

const probe: Probe = { lat: [], errors: 0 };
while (running) {
  const s = performance.now();
  try {
    await source.read();
    probe.lat.push(performance.now() - s);
  } catch {
    probe.errors += 1;
  }
  await sleep(spec.pauseMs);
}
source.close();
port.postMessage({ probe } satisfies ProbeMessage);

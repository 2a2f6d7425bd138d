/**
 * A catalogue probe's thread (see probe.ts): reads, pauses, reads again until
 * told to stop, then sends back what it measured.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { sleep } from './load.js';
import { PROBE_WARMUP_READS, type Probe, type ProbeMessage, type ProbeSpec } from './probe.js';
import { grpcVia, httpVia } from './vias.js';

const spec = workerData as ProbeSpec;
const port = parentPort!;
const via = spec.target.kind === 'http' ? httpVia(spec.target.name, spec.target.base) : grpcVia(spec.target.name, spec.target.address);
let running = true;
port.once('message', () => {
  running = false;
});

for (let i = 0; i < PROBE_WARMUP_READS; i++) await via.catalogue(spec.token, spec.pageSize);
port.postMessage({ ready: true } satisfies ProbeMessage);

const probe: Probe = { lat: [], errors: 0 };
while (running) {
  const s = performance.now();
  try {
    await via.catalogue(spec.token, spec.pageSize);
    probe.lat.push(performance.now() - s);
  } catch {
    probe.errors += 1;
  }
  await sleep(spec.pauseMs);
}
via.close();
port.postMessage({ probe } satisfies ProbeMessage);

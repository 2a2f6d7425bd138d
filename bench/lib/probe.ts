/**
 * Catalogue probes: a reader that reads one page of the catalogue, pauses,
 * and reads again, to measure what a student browsing the catalogue waits
 * while the load runs.
 *
 * Each probe runs on a worker thread of its own (`probe-worker.ts`), not on
 * the load generator's event loop. During scenario 08's closed-loop rush that
 * loop serves 128 students at once, and its own delay (how late a due timer
 * or socket callback runs) reached p99 60 ms and max 108 ms in a run on
 * 2026-12-04: a probe on it measured the generator's queue as well as the
 * cluster's answer. On its own thread a probe still shares the machine's
 * cores with everything else, like any client on this machine.
 */
import { Worker } from 'node:worker_threads';

/**
 * Where a probe reads: the catalogue over HTTP/JSON through Envoy or over
 * native gRPC at one address; or, as a control with no product in the way,
 * a bare grpc-js echo server (bench/lib/echo-server.ts).
 */
export type ProbeTarget =
  | { kind: 'http'; name: string; base?: string }
  | { kind: 'grpc'; name: string; address: string }
  | { kind: 'echo'; name: string; address: string };

/** What the worker is started with. */
export interface ProbeSpec {
  target: ProbeTarget;
  token: string;
  pageSize: number;
  pauseMs: number;
}

/** Latencies (ms) of the reads that answered, and how many failed. */
export interface Probe {
  lat: number[];
  errors: number;
}

/** Reads a probe makes before it measures: its connection and code are warm, as they were on the generator's thread. */
export const PROBE_WARMUP_READS = 5;

/** What the worker sends: first that it is warm, then what it measured. */
export type ProbeMessage = { ready: true } | { probe: Probe };

/**
 * Starts a probe on its own thread and resolves once it has made its warm-up
 * reads; `stop` ends it after its current read and returns what it measured.
 */
export async function startProbe(spec: ProbeSpec): Promise<{ stop(): Promise<Probe> }> {
  const worker = new Worker(new URL('./probe-worker.js', import.meta.url), { workerData: spec satisfies ProbeSpec });
  let ready!: () => void;
  const warm = new Promise<void>((resolve) => (ready = resolve));
  const done = new Promise<Probe>((resolve, reject) => {
    worker.on('message', (m: ProbeMessage) => ('ready' in m ? ready() : resolve(m.probe)));
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`probe ${spec.target.name} exited (code ${code}) before reporting`)));
  });
  // A probe that fails mid-phase is reported by stop(), not as an unhandled rejection meanwhile.
  done.catch(() => undefined);
  await Promise.race([warm, done]);
  return {
    async stop() {
      worker.postMessage('stop');
      try {
        return await done;
      } finally {
        await worker.terminate();
      }
    },
  };
}

/**
 * Watches LiteFS positions (<mount>/<db>-pos, "%016x/%016x": TXID/checksum) of
 * several nodes from a worker thread, so the polling runs on its own clock and
 * is not delayed by the load generator's event loop. Every change is recorded
 * as (time, txid), all times from the same clock, so "commit seen on the
 * primary" and "seen on a replica" compare directly.
 */
import { readFileSync } from 'node:fs';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';

/** Flat [time ms, txid, time ms, txid, …] per watched file. */
export type Timeline = number[];

export interface Watcher {
  stop(): Promise<Timeline[]>;
}

export const DefaultPollIntervalMs = 0.5;

export function watchPositions(files: string[], intervalMs = DefaultPollIntervalMs): Watcher {
  const flag = new SharedArrayBuffer(4);
  const worker = new Worker(fileURLToPath(import.meta.url), { workerData: { files, intervalMs, flag } });
  const done = new Promise<Timeline[]>((resolve, reject) => {
    worker.once('message', (m: Timeline[]) => resolve(m));
    worker.once('error', reject);
  });
  return {
    async stop() {
      const f = new Int32Array(flag);
      Atomics.store(f, 0, 1);
      Atomics.notify(f, 0);
      const t = await done;
      await worker.terminate();
      return t;
    },
  };
}

/** The first time a timeline reaches txid, or undefined. */
export function firstReach(t: Timeline, txid: number): number | undefined {
  // Positions only grow: binary search over the txid column.
  let lo = 0;
  let hi = t.length / 2;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (t[mid * 2 + 1]! >= txid) hi = mid;
    else lo = mid + 1;
  }
  return lo < t.length / 2 ? t[lo * 2] : undefined;
}

function poll(): void {
  const { files, intervalMs, flag } = workerData as { files: string[]; intervalMs: number; flag: SharedArrayBuffer };
  const stop = new Int32Array(flag);
  const timelines: Timeline[] = files.map(() => []);
  const last = files.map(() => -1);
  while (Atomics.load(stop, 0) === 0) {
    for (let i = 0; i < files.length; i++) {
      let v: number;
      try {
        v = parseInt(readFileSync(files[i]!, 'utf8').slice(0, 16), 16);
      } catch {
        continue;
      }
      if (v !== last[i]) {
        last[i] = v;
        timelines[i]!.push(performance.timeOrigin + performance.now(), v);
      }
    }
    Atomics.wait(stop, 0, 0, intervalMs);
  }
  parentPort!.postMessage(timelines);
}

if (!isMainThread && parentPort && (workerData as { files?: unknown })?.files) poll();

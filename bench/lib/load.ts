/**
 * Closed-loop load generation: `concurrency` workers each issue one request,
 * wait for its answer, and issue the next, for a duration or a total count.
 * Latency is measured per request with the monotonic clock. The generator runs
 * in this (single-threaded) process on the same machine as the system under
 * test, so it competes for the same cores: see the CPU figures in each row.
 */
import { percentile, sorted } from './stats.js';

export interface LoadOptions {
  concurrency: number;
  /** Stop issuing new requests after this long (ms). */
  durationMs?: number;
  /** Stop after this many requests in total. */
  count?: number;
  /** Run (unrecorded) for this long first, to warm up JIT, connections, caches. */
  warmupMs?: number;
}

export interface LoadResult {
  requests: number;
  errors: number;
  seconds: number;
  /** Successful requests per second. */
  throughput: number;
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
  /** Up to five distinct error messages, for the notes. */
  errorSamples: string[];
}

/** One request; `worker` is 0..concurrency-1, `i` the global request index. Throw = error. */
export type Op = (worker: number, i: number) => Promise<unknown>;

export async function runLoad(opts: LoadOptions, op: Op): Promise<LoadResult> {
  if (!opts.durationMs && !opts.count) throw new Error('runLoad needs durationMs or count');
  if (opts.warmupMs) await drive({ concurrency: opts.concurrency, durationMs: opts.warmupMs }, op, undefined);
  const rec = { lat: [] as number[], errors: 0, samples: new Set<string>() };
  const t0 = process.hrtime.bigint();
  await drive(opts, op, rec);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const s = sorted(rec.lat);
  return {
    requests: s.length + rec.errors,
    errors: rec.errors,
    seconds,
    throughput: s.length / seconds,
    p50_ms: percentile(s, 50),
    p99_ms: percentile(s, 99),
    max_ms: s.length ? s[s.length - 1]! : Number.NaN,
    errorSamples: [...rec.samples],
  };
}

let globalIndex = 0;

async function drive(
  opts: LoadOptions,
  op: Op,
  rec: { lat: number[]; errors: number; samples: Set<string> } | undefined,
): Promise<void> {
  const deadline = opts.durationMs ? Date.now() + opts.durationMs : Infinity;
  const count = opts.count ?? Infinity;
  let issued = 0;
  const worker = async (w: number) => {
    while (issued < count && Date.now() < deadline) {
      issued += 1;
      const i = globalIndex++;
      const start = process.hrtime.bigint();
      try {
        await op(w, i);
        rec?.lat.push(Number(process.hrtime.bigint() - start) / 1e6);
      } catch (err) {
        if (rec) {
          rec.errors += 1;
          if (rec.samples.size < 5) rec.samples.add(err instanceof Error ? err.message.slice(0, 160) : String(err));
        }
      }
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, (_, w) => worker(w)));
}

/** Resolves after ms. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Runs `fn(item)` over items with at most `concurrency` in flight; results in order. */
export async function mapBounded<T, R>(items: readonly T[], concurrency: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!, i);
      }
    }),
  );
  return out;
}

/**
 * Reading Prometheus's text format: the services' `GET /metrics`
 * (lib/metrics.ts), for `npm run status`, the benchmarks and the tests.
 */

/** The value of the sample `name` whose labels are exactly `labels` (in any order), if `text` has it. */
export function metricSample(text: string, name: string, labels: Record<string, string>): number | undefined {
  const want = JSON.stringify(Object.entries(labels).sort());
  for (const line of text.split('\n')) {
    const m = /^([a-z_:][a-z0-9_:]*)(?:\{(.*)\})? (\S+)$/i.exec(line);
    if (!m || m[1] !== name) continue;
    const got = [...(m[2] ?? '').matchAll(/([a-z_]+)="([^"]*)"/gi)].map((l) => [l[1], l[2]]);
    if (JSON.stringify(got.sort()) === want) return Number(m[3]);
  }
  return undefined;
}

/** Scrapes `GET /metrics` at `addr` (host:port); throws when nothing answers 200 within `timeoutMs`. */
export async function scrape(addr: string, timeoutMs = 10_000): Promise<string> {
  const res = await fetch(`http://${addr}/metrics`, { signal: AbortSignal.timeout(timeoutMs) });
  if (res.status !== 200) throw new Error(`GET http://${addr}/metrics answered ${res.status}`);
  return res.text();
}

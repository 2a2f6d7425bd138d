/**
 * Reading the services' own metrics (lib/metrics.ts) around a stretch of a
 * scenario: what a histogram gained meanwhile.
 */
import { metricSample, scrape } from '../../lib/prometheus-text.js';

/** The observations a histogram gained over a stretch of time. */
export interface HistogramGain {
  count: number;
  /** Their mean, in the histogram's unit (seconds, for every `_seconds` series). */
  mean: number;
}

/**
 * Starts watching the histogram `name` whose labels are exactly `labels` at
 * `addr` (host:port); the function returned gives what it gained since, or
 * undefined when nothing was gained or it could not be read (nothing serves
 * metrics there, or the series does not exist).
 */
export async function histogramSince(addr: string, name: string, labels: Record<string, string>): Promise<() => Promise<HistogramGain | undefined>> {
  const read = async () => {
    try {
      const text = await scrape(addr);
      const count = metricSample(text, `${name}_count`, labels);
      const sum = metricSample(text, `${name}_sum`, labels);
      return count === undefined || sum === undefined ? undefined : { count, sum };
    } catch {
      return undefined;
    }
  };
  const before = await read();
  return async () => {
    const after = await read();
    if (!before || !after || after.count <= before.count) return undefined;
    const count = after.count - before.count;
    return { count, mean: (after.sum - before.sum) / count };
  };
}

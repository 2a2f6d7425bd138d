/**
 * The same writes through Envoy (127.0.0.1:8080): HTTP/JSON (transcoded) and
 * native gRPC. Envoy verifies the JWT, checks RBAC and sends writes to the
 * primary, which it finds by its role health check, so none is forwarded.
 * With group commit, HTTP/JSON is measured again at HIGH_CONCURRENCY in flight:
 * whether more concurrency (bigger batches) buys throughput, or the machine is
 * full. The echo is measured at both concurrencies too.
 * Target: HTTP/JSON writes ≥ 0.5 × the bare grpc-js echo rate (01-floor).
 */
import { round } from '../lib/stats.js';
import type { Check, Context, Row } from '../lib/types.js';
import { grpcVia, httpVia } from '../lib/vias.js';
import { measureWrites, writers } from '../lib/writes.js';
import { CONCURRENCY, HIGH_CONCURRENCY, standInVariant } from './01-floor.js';
import { primaryRow } from './02-write-primary.js';

export const name = '03-write-envoy';
export const title = 'enrollment writes through Envoy: HTTP/JSON and gRPC';
export const modes = ['batch', 'single'] as const;

const HIGH_VARIANT = `Envoy HTTP/JSON (transcoded), ${HIGH_CONCURRENCY} in flight`;

export async function run(ctx: Context): Promise<Row[]> {
  const rows: Row[] = [];
  const ws = await writers(ctx.cluster, CONCURRENCY);
  const notes = 'Envoy routes writes to the primary (found by its role health check): no forwarding hop';
  rows.push(await measureWrites(ctx, ws, httpVia('envoy-http'), CONCURRENCY, 'Envoy HTTP/JSON (transcoded)', notes));
  rows.push(await measureWrites(ctx, ws, grpcVia('envoy-grpc', '127.0.0.1:8080'), CONCURRENCY, 'Envoy native gRPC (h2c)', notes));
  if (ctx.mode === 'batch') {
    const more = await writers(ctx.cluster, HIGH_CONCURRENCY);
    rows.push(await measureWrites(ctx, more, httpVia('envoy-http'), HIGH_CONCURRENCY, HIGH_VARIANT, `${notes}; bigger batches, same workload`));
  }
  return rows;
}

/**
 * What the same writes reach through the product's Envoy when the service
 * behind it does no work (01-floor's stand-in): the ceiling Envoy and the HTTP
 * client put on any service here, and how much of it the product keeps.
 */
function standInText(standIn: Row, echo: Row, http: Row): string {
  const envoyMs = standIn.cpu_ms_per_request?.envoy;
  return `the product's Envoy in front of a stand-in primary that does no work (01-floor) reaches ${standIn.throughput} writes/s, ` +
    `${round(standIn.throughput / echo.throughput)} of the echo` +
    (envoyMs !== undefined ? ` (Envoy ${envoyMs} ms of CPU per write, against ${http.cpu_ms_per_request?.envoy ?? '?'} with the product)` : '') +
    `: the most any service behind this Envoy and this HTTP client reaches here; the product's writes are ${round(http.throughput / standIn.throughput)} of it`;
}

export function checks(rows: Row[]): Check[] {
  const echoAt = (n: number) => rows.find((r) => r.scenario === '01-floor' && r.variant === `grpc-js unary echo, ${n} in flight`);
  const httpAt = (variant: string) => rows.find((r) => r.scenario === name && r.mode === 'batch' && r.variant === variant);
  const out: Check[] = [];
  for (const [n, variant] of [[CONCURRENCY, 'Envoy HTTP/JSON (transcoded)'], [HIGH_CONCURRENCY, HIGH_VARIANT]] as const) {
    const echo = echoAt(n);
    const http = httpAt(variant);
    if (!echo || !http) continue;
    const ratio = http.throughput / echo.throughput;
    const perReq = http.cpu_ms_per_request ?? {};
    const top = Object.entries(perReq).filter(([k]) => k !== 'machine').sort((a, b) => b[1] - a[1]).slice(0, 5).map(([k, v]) => `${k} ${v}`).join(', ');
    const busy = http.cpu_cores?.machine ?? 0;
    const primary = primaryRow(rows, 'batch');
    const standIn = rows.find((r) => r.scenario === '01-floor' && r.variant === standInVariant(n));
    out.push({
      target: `writes through Envoy over HTTP/JSON ≥ 0.5 × bare grpc-js echo (both ${n} in flight)`,
      measured: `${http.throughput} / ${echo.throughput} ops/s (batch)`,
      ratio,
      goal: '>= 0.5',
      met: ratio >= 0.5,
      bound: ratio >= 0.5 ? undefined
        : `${busy >= 1.8 ? 'CPU' : `the closed loop's latency (${n} in flight: ops/s = ${n} / latency; the machine is not full)`}: ` +
          `${perReq.machine ?? '?'} ms of CPU per write over ${busy}/2 busy cores (by process, ms/request: ${top}) vs ${echo.cpu_ms_per_request?.machine ?? '?'} ms per echo; ` +
          `p50 ${http.p50_ms} ms` +
          (n === CONCURRENCY ? `; even straight to the primary over gRPC, writes reach only ${primary?.throughput ?? '?'} ops/s (p50 ${primary?.p50_ms ?? '?'} ms)` : '') +
          (standIn ? `; ${standInText(standIn, echo, http)}` : ''),
    });
  }
  return out;
}

/**
 * The same writes through Envoy (127.0.0.1:8080): HTTP/JSON (transcoded) and
 * native gRPC. Envoy verifies the JWT, checks RBAC and balances over the three
 * nodes, so two writes in three land on a replica and are forwarded to the
 * primary (and answered once replicated back: read-your-writes).
 * Target: HTTP/JSON writes ≥ 0.5 × the bare grpc-js echo rate (01-floor).
 */
import type { Check, Context, Row } from '../lib/types.js';
import { grpcVia, httpVia } from '../lib/vias.js';
import { measureWrites, writers } from '../lib/writes.js';
import { CONCURRENCY } from './01-floor.js';
import { primaryRow } from './02-write-primary.js';

export const name = '03-write-envoy';
export const title = 'enrollment writes through Envoy: HTTP/JSON and gRPC';
export const modes = ['batch', 'single'] as const;

export async function run(ctx: Context): Promise<Row[]> {
  const rows: Row[] = [];
  const ws = await writers(ctx.cluster, CONCURRENCY);
  const notes = 'Envoy routes writes to the primary (found by its role health check): no forwarding hop';
  rows.push(await measureWrites(ctx, ws, httpVia('envoy-http'), CONCURRENCY, 'Envoy HTTP/JSON (transcoded)', notes));
  rows.push(await measureWrites(ctx, ws, grpcVia('envoy-grpc', '127.0.0.1:8080'), CONCURRENCY, 'Envoy native gRPC (h2c)', notes));
  return rows;
}

export function checks(rows: Row[]): Check[] {
  const echo = rows.find((r) => r.scenario === '01-floor' && r.baseline && r.variant.startsWith('grpc-js'));
  const http = rows.find((r) => r.scenario === name && r.mode === 'batch' && r.variant.startsWith('Envoy HTTP'));
  if (!echo || !http) return [];
  const ratio = http.throughput / echo.throughput;
  const primary = primaryRow(rows, 'batch');
  const perReq = http.cpu_ms_per_request ?? {};
  const top = Object.entries(perReq).filter(([k]) => k !== 'machine').sort((a, b) => b[1] - a[1]).slice(0, 5).map(([k, v]) => `${k} ${v}`).join(', ');
  return [{
    target: 'writes through Envoy over HTTP/JSON ≥ 0.5 × bare grpc-js echo',
    measured: `${http.throughput} / ${echo.throughput} ops/s (batch)`,
    ratio,
    goal: '>= 0.5',
    met: ratio >= 0.5,
    bound: ratio >= 0.5 ? undefined
      : `${(http.cpu_cores?.machine ?? 0) >= 1.8 ? 'CPU' : 'the primary\'s commit cycle (closed loop, 32 in flight: ops/s = 32 / latency)'}: ` +
        `${perReq.machine ?? '?'} ms of CPU per write over ${http.cpu_cores?.machine ?? '?'}/2 busy cores (by process, ms/request: ${top}) vs ${echo.cpu_ms_per_request?.machine ?? '?'} ms per echo; ` +
        `p50 ${http.p50_ms} ms; even straight to the primary over gRPC, writes reach only ${primary?.throughput ?? '?'} ops/s (p50 ${primary?.p50_ms ?? '?'} ms)`,
  }];
}

/**
 * The same writes through Envoy (127.0.0.1:8080): HTTP/JSON (transcoded) and
 * native gRPC. Envoy verifies the JWT, checks RBAC and sends writes to the
 * primary, which it finds by its role health check, so none is forwarded.
 * With group commit, HTTP/JSON is measured again at HIGH_CONCURRENCY in flight:
 * whether more concurrency (bigger batches) buys throughput, or the machine is
 * full. The echo is measured at both concurrencies too.
 * Target: HTTP/JSON writes ≥ 0.5 × the bare grpc-js echo rate (01-floor).
 *
 * The echo of 01-floor ran minutes before these writes, and this machine's
 * speed drifts in minutes. So with group commit the HTTP/JSON writes and the
 * same bare echo (a server started here) also run in short alternating rounds
 * at both concurrencies (bench/lib/rounds.ts), and the check judges the
 * target on those; the long windows stay beside them in its text.
 */
import * as grpc from '@grpc/grpc-js';
import { echoCall, startEchoServer } from '../lib/echo-server.js';
import { ALTERNATING, alternatingRounds, roundsFor } from '../lib/rounds.js';
import { round } from '../lib/stats.js';
import type { Check, Context, Row } from '../lib/types.js';
import { grpcVia, httpVia } from '../lib/vias.js';
import { enrollDropOp, measureWrites, writers } from '../lib/writes.js';
import { CONCURRENCY, ECHO_PAYLOAD, HIGH_CONCURRENCY, echoVariant, standInVariant } from './01-floor.js';
import { primaryRow } from './02-write-primary.js';

export const name = '03-write-envoy';
export const title = 'enrollment writes through Envoy: HTTP/JSON and gRPC';
export const modes = ['batch', 'single'] as const;

const HTTP_VARIANT = 'Envoy HTTP/JSON (transcoded)';
const HIGH_VARIANT = `${HTTP_VARIANT}, ${HIGH_CONCURRENCY} in flight`;
/**
 * Cores busy (of 2) from which a closed loop counts as CPU-bound rather than
 * latency-bound: at 1.79 the rest is the scheduler's slack, not idle capacity.
 */
const FULL_MACHINE = 1.75;

const httpVariant = (n: number) => (n === CONCURRENCY ? HTTP_VARIANT : HIGH_VARIANT);

export async function run(ctx: Context): Promise<Row[]> {
  const rows: Row[] = [];
  const ws = await writers(ctx.cluster, CONCURRENCY);
  const notes = 'Envoy routes writes to the primary (found by its role health check): no forwarding hop';
  rows.push(await measureWrites(ctx, ws, httpVia('envoy-http'), CONCURRENCY, HTTP_VARIANT, notes));
  rows.push(await measureWrites(ctx, ws, grpcVia('envoy-grpc', '127.0.0.1:8080'), CONCURRENCY, 'Envoy native gRPC (h2c)', notes));
  if (ctx.mode !== 'batch') return rows;

  const more = await writers(ctx.cluster, HIGH_CONCURRENCY);
  rows.push(await measureWrites(ctx, more, httpVia('envoy-http'), HIGH_CONCURRENCY, HIGH_VARIANT, `${notes}; bigger batches, same workload`));

  const echo = await startEchoServer();
  const client = new grpc.Client(echo.address, grpc.credentials.createInsecure());
  try {
    for (const n of [CONCURRENCY, HIGH_CONCURRENCY]) {
      const via = httpVia('envoy-http');
      try {
        rows.push(...(await alternatingRounds(ctx, roundsFor(ctx, n),
          { op: () => echoCall(client, ECHO_PAYLOAD), variant: echoVariant(n), notes: 'the bare echo of 01-floor, a server started here' },
          { op: enrollDropOp(n === CONCURRENCY ? ws : more, via), variant: httpVariant(n), notes })));
      } finally {
        via.close();
      }
    }
  } finally {
    client.close();
    echo.stop();
  }
  return rows;
}

/**
 * What the same writes reach through the product's Envoy when the service
 * behind it does no work (01-floor's stand-in): the ceiling Envoy and the HTTP
 * client put on any service here, and how much of it the product keeps. Both
 * ratios are to the echo in alternating rounds when the rows have them.
 */
function standInText(find: (scenario: string, variant: string) => Row | undefined, n: number, http: Row, productRatio: number): string {
  const floor = (variant: string) => find('01-floor', variant);
  const standIn = floor(standInVariant(n));
  if (!standIn) return '';
  const standInRounds = floor(`${standInVariant(n)}, ${ALTERNATING}`);
  const echoRounds = floor(`${echoVariant(n)}, ${ALTERNATING}`);
  const [s, e] = standInRounds && echoRounds ? [standInRounds, echoRounds] : [standIn, floor(echoVariant(n))];
  if (!e) return '';
  const ceiling = s.throughput / e.throughput;
  const envoyMs = standIn.cpu_ms_per_request?.envoy;
  return `; the product's Envoy in front of a stand-in primary that does no work (01-floor) reaches ${s.throughput} writes/s, ` +
    `${round(ceiling)} of the echo${s === standInRounds ? ` (${ALTERNATING})` : ''}` +
    (envoyMs !== undefined ? `, Envoy spending ${envoyMs} ms of CPU per write against ${http.cpu_ms_per_request?.envoy ?? '?'} with the product` : '') +
    `: the most any service behind this Envoy and this HTTP client reaches here; the product keeps ${round(productRatio / ceiling)} of it`;
}

export function checks(rows: Row[]): Check[] {
  const find = (scenario: string, variant: string) => rows.find((r) => r.scenario === scenario && (scenario === '01-floor' || r.mode === 'batch') && r.variant === variant);
  const out: Check[] = [];
  for (const n of [CONCURRENCY, HIGH_CONCURRENCY]) {
    // The long windows: 01's echo, these writes minutes later. They carry the CPU figures.
    const echo = find('01-floor', echoVariant(n));
    const http = find(name, httpVariant(n));
    if (!echo || !http) continue;
    const echoRounds = find(name, `${echoVariant(n)}, ${ALTERNATING}`);
    const httpRounds = find(name, `${httpVariant(n)}, ${ALTERNATING}`);
    const rounds = echoRounds && httpRounds;
    const [judged, base] = rounds ? [httpRounds, echoRounds] : [http, echo];
    const ratio = judged.throughput / base.throughput;
    const longText = `${http.throughput} / ${echo.throughput} = ${round(http.throughput / echo.throughput)}`;
    const perReq = http.cpu_ms_per_request ?? {};
    const top = Object.entries(perReq).filter(([k]) => k !== 'machine').sort((a, b) => b[1] - a[1]).slice(0, 5).map(([k, v]) => `${k} ${v}`).join(', ');
    const busy = http.cpu_cores?.machine ?? 0;
    const primary = primaryRow(rows, 'batch');
    out.push({
      target: `writes through Envoy over HTTP/JSON ≥ 0.5 × bare grpc-js echo (both ${n} in flight${rounds ? `, ${ALTERNATING}` : ''})`,
      measured: rounds
        ? `${httpRounds.throughput} / ${echoRounds.throughput} ops/s (batch); in the long windows, 01's echo then these writes: ${longText}`
        : `${http.throughput} / ${echo.throughput} ops/s (batch)`,
      ratio,
      goal: '>= 0.5',
      met: ratio >= 0.5,
      bound: ratio >= 0.5 ? undefined
        : `(long windows) ${busy >= FULL_MACHINE ? 'CPU' : `the closed loop's latency (${n} in flight: ops/s = ${n} / latency; the machine is not full)`}: ` +
          `${perReq.machine ?? '?'} ms of CPU per write over ${busy}/2 busy cores (by process, ms/request: ${top}) vs ${echo.cpu_ms_per_request?.machine ?? '?'} ms per echo; ` +
          `p50 ${http.p50_ms} ms` +
          (n === CONCURRENCY && primary ? `; even straight to the primary over gRPC, writes reach only ${primary.throughput} ops/s (p50 ${primary.p50_ms} ms)` : '') +
          standInText(find, n, http, ratio),
    });
  }
  return out;
}

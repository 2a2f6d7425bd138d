/**
 * The same writes sent to a replica's gRPC port (node2:7202): the replica
 * forwards each to the primary, then answers only once its own TXID has reached
 * the write's (read-your-writes), so the figure includes that wait.
 * With group commit, also at HIGH_CONCURRENCY in flight, against the primary
 * at the same concurrency, and as capacity: the highest rate an open loop
 * sustains, against the primary's (02).
 * Target: ≥ 0.7 × writes sent to the primary (02-write-primary, same mode).
 */
import type { Check, Context, Row } from '../lib/types.js';
import { grpcVia } from '../lib/vias.js';
import { CAPACITY_P99_MS, capacityRow, measureCapacity, measureWrites, writers } from '../lib/writes.js';
import { CONCURRENCY, HIGH_CONCURRENCY } from './01-floor.js';
import { name as primaryScenario, primaryRow } from './02-write-primary.js';

export const name = '04-write-replica';
export const title = 'enrollment writes sent to a replica (forwarded, read-your-writes)';
export const modes = ['batch', 'single'] as const;

const VARIANT = 'replica gRPC node2:7202 (forwarded to node1, waits for replication)';
const NOTES = "answered once node2 has the write's TXID";

export async function run(ctx: Context): Promise<Row[]> {
  const ws = await writers(ctx.cluster, CONCURRENCY);
  const rows = [await measureWrites(ctx, ws, grpcVia('node2', ctx.cluster.node(2).enrollGrpc), CONCURRENCY, VARIANT, NOTES)];
  if (ctx.mode === 'batch') {
    const more = await writers(ctx.cluster, HIGH_CONCURRENCY);
    rows.push(await measureWrites(ctx, more, grpcVia('node2', ctx.cluster.node(2).enrollGrpc), HIGH_CONCURRENCY, `${VARIANT}, ${HIGH_CONCURRENCY} in flight`, NOTES));
    rows.push(await measureCapacity(ctx, more, grpcVia('node2', ctx.cluster.node(2).enrollGrpc), HIGH_CONCURRENCY, VARIANT, NOTES, rows[0]!.throughput)); // searched from the closed loop's rate
  }
  return rows;
}

export function checks(rows: Row[]): Check[] {
  const out: Check[] = [];
  const cases = [['batch', CONCURRENCY], ['single', CONCURRENCY], ['batch', HIGH_CONCURRENCY]] as const;
  for (const [mode, concurrency] of cases) {
    const primary = primaryRow(rows, mode, concurrency);
    const replica = rows.find((r) => r.scenario === name && r.mode === mode && r.concurrency === concurrency && !r.extra?.open_loop);
    if (!primary || !replica) continue;
    const ratio = replica.throughput / primary.throughput;
    out.push({
      target: `writes forwarded from a replica ≥ 0.7 × writes to the primary (WRITE_MODE=${mode}, ${concurrency} in flight)`,
      measured: `${replica.throughput} / ${primary.throughput} ops/s`,
      ratio,
      goal: '>= 0.7',
      met: ratio >= 0.7,
      bound: ratio >= 0.7 ? undefined
        : `forwarding adds a hop and the replication wait: p50 ${replica.p50_ms} ms vs ${primary.p50_ms} ms on the primary; CPU ${replica.cpu_ms_per_request?.machine ?? '?'} vs ${primary.cpu_ms_per_request?.machine ?? '?'} ms/request, machine ${replica.cpu_cores?.machine ?? '?'}/2 cores busy`,
    });
  }
  const primaryCapacity = capacityRow(rows, primaryScenario);
  const replicaCapacity = capacityRow(rows, name);
  if (primaryCapacity && replicaCapacity && primaryCapacity.throughput > 0) {
    const ratio = replicaCapacity.throughput / primaryCapacity.throughput;
    out.push({
      target: `writes forwarded from a replica ≥ 0.7 × writes to the primary (WRITE_MODE=batch, capacity: highest open-loop rate with p99 ≤ ${CAPACITY_P99_MS} ms)`,
      measured: `${replicaCapacity.throughput} / ${primaryCapacity.throughput} ops/s`,
      ratio,
      goal: '>= 0.7',
      met: ratio >= 0.7,
      bound: ratio >= 0.7 ? undefined
        : `writes arriving at a steady rate reach the replica a few per turn, so the primary commits forwarded writes in smaller batches: ` +
          `${replicaCapacity.extra?.writes_per_commit ?? '?'} vs ${primaryCapacity.extra?.writes_per_commit ?? '?'} writes per commit sent straight to it, and LiteFS's per-commit CPU is spread over fewer writes; ` +
          `CPU ${replicaCapacity.cpu_ms_per_request?.machine ?? '?'} vs ${primaryCapacity.cpu_ms_per_request?.machine ?? '?'} ms/request, machine ${replicaCapacity.cpu_cores?.machine ?? '?'} vs ${primaryCapacity.cpu_cores?.machine ?? '?'} cores busy`,
    });
  }
  return out;
}

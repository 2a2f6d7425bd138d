/**
 * Enrollment writes sent straight to the primary's gRPC port (node1:7201):
 * each request is one write (CreateEnrollment or DropUserEnrollment). Under
 * WRITE_MODE=single each is its own transaction; under batch, concurrent ones
 * share a group commit. Baseline: raw SQLite commits on node1's LiteFS mount
 * (a separate bench.db, no service), i.e. what one FUSE commit costs.
 * With group commit, also at HIGH_CONCURRENCY in flight (bigger batches), the
 * highest rate an open loop sustains (bench/lib/capacity.ts), and what an
 * idempotency key on every write costs: the same writes with and without a new
 * key each, random or time-ordered, in alternating rounds (lib/idempotency.ts).
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { LoadResult } from '../lib/load.js';
import { cpuMeter } from '../lib/procs.js';
import { percentile, sorted } from '../lib/stats.js';
import type { Check, Context, Row } from '../lib/types.js';
import { grpcVia } from '../lib/vias.js';
import { alternatingRounds, roundsFor } from '../lib/rounds.js';
import { uuidv7 } from '../lib/uuidv7.js';
import { enrollDropOp, measureCapacity, measureWrites, writers } from '../lib/writes.js';
import { CONCURRENCY, HIGH_CONCURRENCY } from './01-floor.js';

export const name = '02-write-primary';
export const title = 'enrollment writes straight to the primary (gRPC)';
export const modes = ['batch', 'single'] as const;

function fuseCommits(mount: string, durationMs: number): LoadResult {
  const db = new Database(join(mount, 'bench.db'));
  db.pragma('busy_timeout = 5000');
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec('CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, user_id INTEGER, section_id INTEGER)');
  const insert = db.prepare('INSERT INTO t (user_id, section_id) VALUES (?, ?)');
  const tx = db.transaction(() => insert.run(1, 2));
  const lat: number[] = [];
  const t0 = process.hrtime.bigint();
  const end = Date.now() + durationMs;
  while (Date.now() < end) {
    const s = process.hrtime.bigint();
    tx.immediate();
    lat.push(Number(process.hrtime.bigint() - s) / 1e6);
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  db.close();
  const s = sorted(lat);
  return { requests: lat.length, errors: 0, seconds, throughput: lat.length / seconds, p50_ms: percentile(s, 50), p99_ms: percentile(s, 99), max_ms: s[s.length - 1] ?? NaN, errorSamples: [] };
}

export async function run(ctx: Context): Promise<Row[]> {
  const rows: Row[] = [];
  const ws = await writers(ctx.cluster, CONCURRENCY);

  const meter = cpuMeter(ctx.procs());
  const r = fuseCommits(ctx.cluster.node(1).mount, ctx.pick(4_000, 1_000));
  rows.push(ctx.row({ variant: 'raw SQLite commit on node1\'s LiteFS mount (1 insert/commit, no service)', baseline: true, concurrency: 1,
    notes: 'separate bench.db beside enroll.db; WAL, synchronous=FULL; the FUSE commit cost' }, r, meter()));
  ctx.log(`raw FUSE commits: ${Math.round(r.throughput)}/s, p50 ${r.p50_ms.toFixed(2)} ms`);

  const notes = 'CreateEnrollment/DropUserEnrollment pairs, one student per worker';
  const closed = await measureWrites(ctx, ws, grpcVia('node1', ctx.cluster.node(1).enrollGrpc), CONCURRENCY,
    `primary gRPC node1:7201, ${ctx.mode === 'single' ? 'one transaction per request' : 'group commit'}`, notes);
  rows.push(closed);
  if (ctx.mode === 'batch') {
    const more = await writers(ctx.cluster, HIGH_CONCURRENCY);
    rows.push(await measureWrites(ctx, more, grpcVia('node1', ctx.cluster.node(1).enrollGrpc), HIGH_CONCURRENCY,
      `primary gRPC node1:7201, group commit, ${HIGH_CONCURRENCY} in flight`, notes));
    rows.push(await measureCapacity(ctx, more, grpcVia('node1', ctx.cluster.node(1).enrollGrpc), HIGH_CONCURRENCY,
      'primary gRPC node1:7201, group commit', 'one student per slot', closed.throughput));
    rows.push(...(await keyedRounds(ctx, ws)));
  }
  return rows;
}

/** The keyed sides of the idempotency-key rounds: a new key on every write, random (UUIDv4) or time-ordered (UUIDv7). */
const KEY_KINDS = [
  { kind: 'UUIDv4', key: randomUUID },
  { kind: 'UUIDv7', key: () => uuidv7() },
] as const;

/**
 * The same writes without and with an idempotency key (a new one each, so
 * every write looks its key up and stores it with its result), at CONCURRENCY
 * in flight in alternating rounds, once for each kind of key: what keys cost
 * a write. The table keeps every key of the run (they live a day).
 */
async function keyedRounds(ctx: Context, ws: Awaited<ReturnType<typeof writers>>): Promise<Row[]> {
  const address = ctx.cluster.node(1).enrollGrpc;
  const notes = 'CreateEnrollment/DropUserEnrollment pairs, one student per worker';
  const rows: Row[] = [];
  for (const { kind, key } of KEY_KINDS) {
    const plain = grpcVia('node1', address);
    const keyed = grpcVia('node1', address, () => ({ 'idempotency-key': key() }));
    try {
      rows.push(...(await alternatingRounds(ctx, roundsFor(ctx, CONCURRENCY),
        { op: enrollDropOp(ws, plain), variant: `primary gRPC node1:7201, group commit, no idempotency key (beside ${kind} keys)`, notes },
        { op: enrollDropOp(ws, keyed), variant: `primary gRPC node1:7201, group commit, a new ${kind} idempotency-key on every write`, notes: `${notes}; each key looked up, then stored with the write's result` })));
    } finally {
      plain.close();
      keyed.close();
    }
  }
  return rows;
}

/** The primary-direct write row of a mode at a concurrency (used by other scenarios' checks). */
export function primaryRow(rows: Row[], mode: 'batch' | 'single', concurrency = CONCURRENCY): Row | undefined {
  return rows.find((r) => r.scenario === name && r.mode === mode && !r.baseline && r.concurrency === concurrency && !r.extra?.open_loop);
}

export function checks(_rows: Row[]): Check[] {
  return [];
}

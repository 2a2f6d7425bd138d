/**
 * The floor of this machine: a bare grpc-js unary echo (server in its own
 * process, no proto decoding, no middleware), the product's own Envoy in front
 * of a stand-in enrollment primary that does no work (bench/lib/stand-in.ts:
 * what any service could reach through that Envoy over HTTP/JSON), and raw
 * SQLite commits with the product's pragmas (WAL, synchronous=FULL) on the
 * same disk, without LiteFS.
 */
import * as grpc from '@grpc/grpc-js';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { REPO_DIR } from '../../test/harness/cluster.js';
import { echoCall, startEchoServer } from '../lib/echo-server.js';
import { runOpenLoop } from '../lib/capacity.js';
import { alternatingRounds, roundsFor } from '../lib/rounds.js';
import { STAND_IN_SECTION, startStandInFront } from '../lib/stand-in.js';
import { httpVia } from '../lib/vias.js';
import { enrollDropOp } from '../lib/writes.js';
import type { LoadResult } from '../lib/load.js';
import { cpuMeter } from '../lib/procs.js';
import { percentile, sorted } from '../lib/stats.js';
import type { Context, Row } from '../lib/types.js';

export const name = '01-floor';
export const title = 'bare grpc-js echo and raw SQLite commits (no LiteFS)';

/** The concurrency every request/response scenario uses, so rates compare. */
export const CONCURRENCY = 32;
/**
 * The higher concurrency the write scenarios add with group commit, to see
 * whether more in flight (bigger batches) buys throughput. 256 is also the
 * load generator's HTTP socket pool (bench/lib/rpc.ts).
 */
export const HIGH_CONCURRENCY = 256;

/**
 * Calls per second of the paced echo: about the rate of one of scenario 08's
 * catalogue probes, so each call arrives alone, after the server fell idle.
 */
export const PACED_ECHO_RATE = 40;
export const PACED_ECHO = `grpc-js unary echo, paced: ${PACED_ECHO_RATE} calls/s, each alone`;

/** What every echo call sends: about the size of an enrollment write's request. */
export const ECHO_PAYLOAD = Buffer.from('{"user_id":1234,"section_id":56}');

/** The echo rows' variant at `n` in flight (the write targets' baseline). */
export const echoVariant = (n: number) => `grpc-js unary echo, ${n} in flight`;

/** The stand-in rows' variant at `n` in flight (03-write-envoy's check reads them). */
export const standInVariant = (n: number) => `Envoy HTTP/JSON writes to a stand-in primary that does no work, ${n} in flight`;

/** Commits on a plain file: `perCommit` inserts per transaction, for durationMs. */
function sqliteCommits(file: string, perCommit: number, durationMs: number): LoadResult {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec('CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, user_id INTEGER, section_id INTEGER, status TEXT)');
  const insert = db.prepare('INSERT INTO t (user_id, section_id, status) VALUES (?, ?, ?)');
  const tx = db.transaction((n: number) => {
    for (let i = 0; i < n; i++) insert.run(i, i % 50, 'enrolled');
  });
  const lat: number[] = [];
  const t0 = process.hrtime.bigint();
  const end = Date.now() + durationMs;
  while (Date.now() < end) {
    const s = process.hrtime.bigint();
    tx.immediate(perCommit);
    lat.push(Number(process.hrtime.bigint() - s) / 1e6);
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  db.close();
  const s = sorted(lat);
  return {
    requests: lat.length * perCommit, errors: 0, seconds, throughput: (lat.length * perCommit) / seconds,
    p50_ms: percentile(s, 50), p99_ms: percentile(s, 99), max_ms: s[s.length - 1] ?? NaN, errorSamples: [],
  };
}

export async function run(ctx: Context): Promise<Row[]> {
  const rows: Row[] = [];
  const duration = ctx.pick(10_000, 2_000);
  const warmupMs = ctx.pick(1_000, 300);
  ctx.setting('concurrency', CONCURRENCY);
  ctx.setting('duration_ms', duration);
  ctx.setting('warmup_ms', warmupMs);

  const echo = await startEchoServer();
  const client = new grpc.Client(echo.address, grpc.credentials.createInsecure());
  const op = () => echoCall(client, ECHO_PAYLOAD);
  try {
    const procs = [{ pid: echo.pid, name: 'echo-server' }];
    rows.push(await ctx.measure({ variant: echoVariant(CONCURRENCY), baseline: true, concurrency: CONCURRENCY, durationMs: duration, warmupMs, procs, notes: 'server in its own process, one HTTP/2 connection' }, op));
    rows.push(await ctx.measure({ variant: echoVariant(HIGH_CONCURRENCY), concurrency: HIGH_CONCURRENCY, durationMs: duration, warmupMs, procs, notes: 'server in its own process, one HTTP/2 connection' }, op));
    rows.push(await ctx.measure({ variant: 'grpc-js unary echo, 1 in flight', concurrency: 1, durationMs: Math.min(duration, 5_000), procs, notes: 'latency floor of one call' }, op));
    // A call that arrives alone costs more CPU than one of a stream of calls:
    // the process wakes from idle each time. Paced requests (08's probes and
    // paced rushes) pay this in every process they pass through.
    const meter = cpuMeter(procs);
    const paced = await runOpenLoop({ rate: PACED_ECHO_RATE, durationMs: Math.min(duration, 8_000), slots: 1 }, op);
    rows.push(ctx.row({ variant: PACED_ECHO, concurrency: 1, notes: 'open loop, one call in flight at most; compare the CPU per call with the rows above' }, paced, meter()));

    // 03-write-envoy's writes, the same requests from the same client, through
    // the product's Envoy to a primary that answers without doing anything:
    // a long window each (CPU figures), then alternating rounds with the echo.
    const front = await startStandInFront(join(REPO_DIR, 'var', 'bench-stand-in'), HIGH_CONCURRENCY);
    try {
      const notes = 'the product\'s Envoy (scripts/envoy.sh, same config: token check, RBAC, transcoding, access log) in front of a grpc-js server that answers fixed bytes; enroll/drop pairs as in 03';
      for (const n of [CONCURRENCY, HIGH_CONCURRENCY]) {
        const ws = { sectionId: STAND_IN_SECTION, students: front.students.slice(0, n), enrolled: front.students.slice(0, n).map(() => false) };
        const via = httpVia('stand-in', front.url);
        try {
          rows.push(await ctx.measure({ variant: standInVariant(n), concurrency: n, durationMs: duration, warmupMs, procs: front.procs, notes }, enrollDropOp(ws, via)));
          rows.push(...(await alternatingRounds(ctx, roundsFor(ctx, n),
            { op, variant: echoVariant(n), notes: 'the same echo server' },
            { op: enrollDropOp(ws, via), variant: standInVariant(n), notes })));
        } finally {
          via.close();
        }
      }
    } finally {
      await front.stop();
    }
  } finally {
    client.close();
    echo.stop();
  }

  const dir = join(REPO_DIR, 'var', 'bench-sqlite');
  for (const perCommit of [1, CONCURRENCY]) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const meter = cpuMeter([]);
    const r = sqliteCommits(join(dir, 'raw.db'), perCommit, Math.min(duration, 5_000));
    const cpu = meter();
    const spec = { variant: `raw SQLite (WAL, synchronous=FULL), ${perCommit} insert${perCommit > 1 ? 's' : ''} per commit`, concurrency: 1, baseline: perCommit === 1,
      notes: `plain ext4/virtual disk under var/, no LiteFS; ops = inserts; ${Math.round(r.throughput / perCommit)} commits/s; p50/p99 per commit` };
    rows.push(ctx.row(spec, r, cpu));
    ctx.log(`${spec.variant}: ${Math.round(r.throughput)} inserts/s, p50 ${r.p50_ms.toFixed(3)} ms per commit`);
  }
  rmSync(dir, { recursive: true, force: true });
  return rows;
}

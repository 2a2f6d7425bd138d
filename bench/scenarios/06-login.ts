/**
 * Login throughput (Login RPC straight to node1's auth gRPC port: no Envoy
 * rate limit) against the raw argon2id verify rate in this process at the
 * same concurrency, with the product's ARGON2_PARAMS. Both run argon2 on
 * libuv's thread pool on the same cores: the generator's has libuv's default
 * of 4 threads, the auth service's one per core (services/node/env.ts), unless
 * UV_THREADPOOL_SIZE is set. The raw verify rate does not depend on it (120–121
 * verifies/s at 8 in flight with 2, 3 or 4 threads on a 2-core VM).
 * Target: login ≥ 0.8 × raw verify, judged on alternating rounds (below).
 * Then registrations at the highest concurrency against the raw hash rate (no
 * target: they show the same gate at work on the other password path).
 *
 * The long windows measure each side once, one after the other, and this
 * machine's speed drifts between them: the ratio moved 0.72–0.82 over one
 * day's full runs of the same code. So at the highest concurrency the two
 * sides also run in short alternating rounds (raw, login, login, raw, …: a
 * steady drift moves both alike), and the check divides the logins of all
 * rounds by the raw verifies of all rounds; the rows give each round's ratio.
 */
import argon2 from 'argon2';
import { ARGON2_PARAMS } from '../../services/auth/domain/passwords.js';
import { serviceEnv, threadPoolSize } from '../../services/node/env.js';
import { authClient, txidOf } from '../../test/support/clients.js';
import { runLoad, type LoadResult, type Op } from '../lib/load.js';
import { unary } from '../lib/rpc.js';
import { students } from '../lib/school.js';
import { commitCounter } from '../lib/writes.js';
import { round } from '../lib/stats.js';
import type { Check, Context, Row } from '../lib/types.js';

export const name = '06-login';
export const title = 'login vs raw argon2id verify at the same concurrency';
export const modes = ['batch'] as const;

const PASSWORD = 'registration-day-2026'; // what test/support/school.ts registers students with

export const LOGIN_CONCURRENCY = [1, 8];

/** Alternating rounds at the highest concurrency: how many of each side, and how long each. */
export const ROUNDS = 6;
const ROUND_MS = 3_000;
const ALTERNATING = 'alternating rounds';

export async function run(ctx: Context): Promise<Row[]> {
  const rows: Row[] = [];
  const people = await students(ctx.cluster, Math.max(...LOGIN_CONCURRENCY));
  const hash = await argon2.hash(PASSWORD, ARGON2_PARAMS);
  const client = authClient(ctx.cluster.node(1).authGrpc);
  const duration = ctx.pick(8_000, 2_000);
  ctx.setting('argon2', { m: ARGON2_PARAMS.memoryCost, t: ARGON2_PARAMS.timeCost, p: ARGON2_PARAMS.parallelism });
  ctx.setting('auth_threadpool', threadPoolSize(serviceEnv('auth', process.env)));
  const params = `m=${ARGON2_PARAMS.memoryCost} KiB, t=${ARGON2_PARAMS.timeCost}, p=${ARGON2_PARAMS.parallelism}`;
  try {
    const rawVerify: Op = async () => {
      if (!(await argon2.verify(hash, PASSWORD))) throw new Error('verify failed');
    };
    let loginCommits = commitCounter();
    const login: Op = async (w) => {
      const p = people[w % people.length]!;
      const { headers } = await unary(client, 'Login', { username: p.username, password: PASSWORD });
      loginCommits.answered(txidOf(headers));
    };
    for (const c of LOGIN_CONCURRENCY) {
      rows.push(await ctx.measure({
        variant: `raw argon2id verify in-process, ${c} in flight`, baseline: true, concurrency: c, durationMs: duration, warmupMs: 300,
        notes: params,
      }, rawVerify));
      loginCommits = commitCounter();
      const row = await ctx.measure({
        variant: `Login RPC to node1:7101, ${c} in flight`, concurrency: c, durationMs: duration, warmupMs: 300,
        notes: 'argon2 verify + RS256 signing + one write (audit row, last login, refresh token)',
      }, login);
      rows.push(loginCommits.onto(row));
    }
    const c = Math.max(...LOGIN_CONCURRENCY);
    rows.push(...(await alternatingRounds(ctx, c, rawVerify, login, params)));
    // Registrations: an argon2id hash, then one write (a new user), through the same gate.
    rows.push(await ctx.measure({
      variant: `raw argon2id hash in-process, ${c} in flight`, baseline: true, concurrency: c, durationMs: duration, warmupMs: 300,
      notes: params,
    }, async () => {
      await argon2.hash(PASSWORD, ARGON2_PARAMS);
    }));
    const commits = commitCounter();
    let registered = 0;
    const row = await ctx.measure({
      variant: `Register RPC to node1:7101, ${c} in flight`, concurrency: c, durationMs: duration, warmupMs: 300,
      notes: 'argon2 hash + one write (the new user)',
    }, async () => {
      registered += 1;
      const username = `bench-reg-${process.pid}-${registered}`;
      const { headers } = await unary(client, 'Register', { username, email: `${username}@example.edu`, password: PASSWORD });
      commits.answered(txidOf(headers));
    });
    rows.push(commits.onto(row));
  } finally {
    client.close();
  }
  return rows;
}

/**
 * The raw verify and logins in ROUNDS short rounds each, alternating (ABBA…),
 * as two rows: each side's requests over its rounds' time, and the ratio of
 * every pair of rounds in the notes. Latency is left to the long windows.
 */
async function alternatingRounds(ctx: Context, c: number, rawVerify: Op, login: Op, params: string): Promise<Row[]> {
  const roundMs = ctx.pick(ROUND_MS, 500);
  const raw: LoadResult[] = [];
  const logins: LoadResult[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    for (const side of i % 2 === 0 ? ['raw', 'login'] : ['login', 'raw']) {
      if (side === 'raw') raw.push(await runLoad({ concurrency: c, durationMs: roundMs, warmupMs: 300 }, rawVerify));
      else logins.push(await runLoad({ concurrency: c, durationMs: roundMs, warmupMs: 300 }, login));
    }
  }
  const pooled = (rs: LoadResult[]): LoadResult => {
    const requests = rs.reduce((n, r) => n + r.requests, 0);
    const errors = rs.reduce((n, r) => n + r.errors, 0);
    const seconds = rs.reduce((n, r) => n + r.seconds, 0);
    return { requests, errors, seconds, throughput: (requests - errors) / seconds, p50_ms: Number.NaN, p99_ms: Number.NaN, max_ms: Number.NaN, errorSamples: [...new Set(rs.flatMap((r) => r.errorSamples))].slice(0, 5) };
  };
  const perRound = raw.map((r, i) => round(logins[i]!.throughput / r.throughput)).join(', ');
  const rounds = `${ROUNDS} rounds of ${roundMs / 1000} s, alternating raw and login (ABBA…); latency: see the long windows`;
  const rawRow = ctx.row({ variant: `raw argon2id verify in-process, ${c} in flight, ${ALTERNATING}`, baseline: true, concurrency: c, durationMs: roundMs, notes: `${params}; ${rounds}` }, pooled(raw));
  const loginRow = ctx.row({ variant: `Login RPC to node1:7101, ${c} in flight, ${ALTERNATING}`, concurrency: c, durationMs: roundMs, notes: `${rounds}; login ÷ raw verify per pair of rounds: ${perRound}` }, pooled(logins));
  ctx.log(`login ÷ raw verify in ${ALTERNATING}: ${round(loginRow.throughput / rawRow.throughput)} (per pair: ${perRound})`);
  return [rawRow, loginRow];
}

export function checks(rows: Row[]): Check[] {
  const c = Math.max(...LOGIN_CONCURRENCY);
  const find = (baseline: boolean, what: string, alternating: boolean) =>
    rows.find((r) => r.scenario === name && !!r.baseline === baseline && r.concurrency === c && r.variant.includes(what) && r.variant.endsWith(ALTERNATING) === alternating);
  const raw = find(true, 'verify', true);
  const login = find(false, 'Login', true);
  if (!raw || !login) return [];
  const ratio = login.throughput / raw.throughput;
  const longRaw = find(true, 'verify', false);
  const longLogin = find(false, 'Login', false);
  const long = longRaw && longLogin ? `; in the long windows, one after the other: ${longLogin.throughput} / ${longRaw.throughput} = ${round(longLogin.throughput / longRaw.throughput)}` : '';
  return [{
    target: `login ≥ 0.8 × raw argon2id verify rate (${c} in flight, ${ALTERNATING})`,
    measured: `${login.throughput} / ${raw.throughput} per s${long}`,
    ratio,
    goal: '>= 0.8',
    met: ratio >= 0.8,
    bound: ratio >= 0.8 ? undefined
      : `CPU per login ${longLogin?.cpu_ms_per_request?.machine ?? '?'} ms vs ${longRaw?.cpu_ms_per_request?.machine ?? '?'} ms per raw verify; cores busy ${longLogin?.cpu_cores?.machine ?? '?'} vs ${longRaw?.cpu_cores?.machine ?? '?'} (long windows)`,
  }];
}

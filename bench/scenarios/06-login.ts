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
import type { Op } from '../lib/load.js';
import { ALTERNATING, alternatingRounds, roundsFor } from '../lib/rounds.js';
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
    rows.push(...(await alternatingRounds(ctx, roundsFor(ctx, c),
      { op: rawVerify, variant: `raw argon2id verify in-process, ${c} in flight`, notes: params },
      { op: login, variant: `Login RPC to node1:7101, ${c} in flight`, notes: 'argon2 verify + RS256 signing + one write' })));
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

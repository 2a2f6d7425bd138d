/**
 * Retention on the real cluster, with the audit log kept 4 s instead of a year
 * and the primary deleting older entries every second, through the variables
 * an operator would set (services/auth/main.ts): an old entry disappears from
 * every node, the primary counts what it deleted, and newer entries stay; a
 * backlog goes in runs of 1,000 a quarter of a second apart, not an interval.
 * Refresh tokens, kept until a week past their expiry, are covered by
 * services/auth/domain/retention.test.ts.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { useCluster, waitUntil } from '../harness/cluster.js';
import { http, uniqueName } from '../support/clients.js';
import { metricSample, scrape } from '../../lib/prometheus-text.js';

const RETENTION_S = 4;

describe('audit entries past their retention are deleted on every node', () => {
  const env = useCluster({ env: { AUTH_LOG_RETENTION_S: String(RETENTION_S), AUTH_PRUNE_INTERVAL_S: '1' } });

  test('an old login leaves the audit log everywhere, a new one stays, and the primary counts the deletions', async () => {
    const settings = env.cluster.logEntries('node1').find((e) => e.msg?.toString().startsWith('audit entries kept'));
    assert.deepEqual({ keep: settings?.auditRetentionS, every: settings?.pruneIntervalS }, { keep: RETENTION_S, every: 1 });
    const prunedOnPrimary = async () =>
      metricSample(await scrape(env.cluster.node(1).authMetrics), 'course_pruned_rows_total', { table: 'auth_logs', service: 'auth', node: 'node1' }) ?? 0;
    const before = await prunedOnPrimary();

    const username = uniqueName('kept');
    const password = 'a password kept briefly';
    assert.equal((await http('POST', '/register', { body: { username, email: `${username}@example.edu`, password } })).status, 200);
    const login = await http('POST', '/login', { body: { username, password } });
    assert.equal(login.status, 200, login.text);
    const loggedAt = Date.now();
    const mine = async (token: string): Promise<string[]> => {
      const res = await http('GET', `/auth-logs?username=${username}`, { token });
      assert.equal(res.status, 200, res.text);
      return (res.body.entries as Array<{ outcome: string }>).map((e) => e.outcome);
    };
    assert.deepEqual(await mine(login.body.access_token), ['ok'], 'the login is audited');

    /** Audit entries with this username in each node's copy of auth.db, read on its LiteFS mount. */
    const onEveryNode = () =>
      ([1, 2, 3] as const).map((n) => {
        const db = new Database(join(env.cluster.node(n).mount, 'auth.db'), { readonly: true, fileMustExist: true });
        try {
          return db.prepare('SELECT count(*) FROM auth_logs WHERE username = ?').pluck().get(username) as number;
        } finally {
          db.close();
        }
      });
    await waitUntil(() => onEveryNode().every((count) => count === 1), 5_000, { what: 'the login to reach every copy' });
    await waitUntil(() => onEveryNode().every((count) => count === 0), 15_000, { what: 'the login to leave every copy of the audit log' });
    assert.ok(Date.now() - loggedAt >= RETENTION_S * 1000 - 1000, `kept at least its ${RETENTION_S} s (SQLite's timestamps are whole seconds)`);
    assert.ok((await prunedOnPrimary()) > before, 'the primary counted what it deleted');

    // A new login is kept for its own retention: still there after the next deletions.
    const again = await http('POST', '/login', { body: { username, password } });
    assert.equal(again.status, 200);
    await sleep(1500);
    assert.deepEqual(await mine(again.body.access_token), ['ok'], 'the user sees only the new login');
  });

  test('a backlog of old entries goes in runs of a whole batch each, a drain pause apart instead of an interval', async (t) => {
    const BACKLOG = 3_500;
    const since = Date.now();
    // Old entries written straight into the primary's auth.db on its mount (as an operator's
    // sqlite3 shell could), as if a busy day a year ago had come of age all at once.
    const db = new Database(join(env.cluster.node(1).mount, 'auth.db'), { fileMustExist: true, timeout: 5_000 });
    try {
      const insert = db.prepare("INSERT INTO auth_logs (request_ip, request_timestamp, outcome, method, username) VALUES ('192.0.2.1', '2000-01-01 00:00:00', 'ok', 'login', ?)");
      db.transaction(() => {
        for (let i = 0; i < BACKLOG; i++) insert.run(`backlog-${i}`);
      })();
      const left = () => db.prepare("SELECT count(*) FROM auth_logs WHERE username LIKE 'backlog-%'").pluck().get() as number;
      await waitUntil(() => left() === 0, 20_000, { what: 'the backlog to be deleted' });
    } finally {
      db.close();
    }
    const logged = () =>
      env.cluster
        .logEntries('node1')
        .filter((e) => e.service === 'auth' && e.msg === 'deleted rows no longer kept' && Date.parse(String(e.time)) >= since)
        .map((e) => ({ at: Date.parse(String(e.time)), authLogs: Number(e.authLogs) }));
    // The last run's log line can reach the test after its commit emptied the backlog.
    await waitUntil(() => logged().reduce((sum, r) => sum + r.authLogs, 0) >= BACKLOG, 5_000, { what: 'every run to be logged' });
    const runs = logged();
    const full = runs.filter((r) => r.authLogs === 1000);
    assert.ok(full.length >= 3, `at least three whole batches of 1,000: ${JSON.stringify(runs)}`);
    const gaps = runs.slice(1).map((r, i) => ({ after: runs[i]!, ms: r.at - runs[i]!.at })).filter((g) => g.after.authLogs === 1000);
    t.diagnostic(`runs after a whole batch followed ${gaps.map((g) => g.ms).join(', ')} ms later (interval 1,000 ms)`);
    assert.ok(gaps.length >= 3 && gaps.every((g) => g.ms < 900), `each run after a whole batch came sooner than the interval: ${JSON.stringify(gaps)}`);
  });
});

/**
 * The call wrapper's idempotency keys, on a real grpc-js server and client in
 * this process: a primary's runtime (a real writer on a SQLite file; a LiteFS
 * node, a token verifier and a forwarder standing in) and methods with JSON
 * bodies that take seats. The same methods served to a replica's stream are
 * checked through `forwardedRoutes`. The cluster's own path, through Envoy
 * and from a replica, is in test/e2e/enroll.e2e.test.ts.
 */
import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, describe, test } from 'node:test';
import { pino } from 'pino';
import { SEAT_MIGRATIONS, takeSeat } from '../../test/support/seat-ops.js';
import { Status, unauthenticated } from '../errors.js';
import { IDEMPOTENCY_KEY_HEADER, IdempotencyKeysTable, REPLAYED_HEADER } from '../idempotency.js';
import type { LiteFsNode } from '../litefs.js';
import type { Logger } from '../log.js';
import { openWritable, type WritableDb } from '../sqlite.js';
import { createWriter } from '../writer.js';
import { createMetrics, observingCommits, type ServiceMetrics } from '../metrics.js';
import { CLIENT_ADDRESS_HEADER, type Forwarder } from './forward.js';
import { MAX_STALENESS_HEADER, bindService, clientIpOf, forwardedRoutes, read, write, type MethodImpl, type Runtime } from './handler.js';
import type { TokenVerifier } from './identity.js';

const dir = mkdtempSync(join(tmpdir(), 'handler-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function jsonMethod(path: string): grpc.MethodDefinition<unknown, unknown> {
  const ser = (v: unknown) => Buffer.from(JSON.stringify(v));
  const de = (b: Buffer) => JSON.parse(b.toString()) as unknown;
  return { path, requestStream: false, responseStream: false, requestSerialize: ser, requestDeserialize: de, responseSerialize: ser, responseDeserialize: de };
}

const definition: grpc.ServiceDefinition = {
  Take: jsonMethod('/test.v1.Seats/Take'),
  TakeTwice: jsonMethod('/test.v1.Seats/TakeTwice'),
  Peek: jsonMethod('/test.v1.Seats/Peek'),
};

interface TakeRequest {
  who: string;
}

const impls: Record<string, MethodImpl> = {
  // The caller must be known; the seat is the request's own write.
  Take: write(async (ctx, req: TakeRequest) => {
    await ctx.identity();
    return { seat: await ctx.requestWrite(takeSeat, req.who) };
  }),
  TakeTwice: write(async (ctx, req: TakeRequest) => {
    await ctx.requestWrite(takeSeat, req.who);
    return { seat: await ctx.requestWrite(takeSeat, `${req.who}-again`) };
  }),
  // A read that touches nothing: what the wrapper does around it is under test.
  Peek: read(async () => ({ seat: 0 })),
};

/** A token "user-7" is user 7; anything else is refused. */
const verifier: TokenVerifier = {
  verify: (token) => {
    const m = /^user-(\d+)$/.exec(token);
    return m ? Promise.resolve({ userId: Number(m[1]), username: `u${m[1]}`, roles: ['student'] }) : Promise.reject(unauthenticated('bad token'));
  },
};

/** What the wrapper asks of the node on a primary: positions and acknowledgements. */
const node = {
  acknowledge: () => undefined,
  position: () => 0n,
  waitForTxid: () => Promise.resolve(true),
} as unknown as LiteFsNode;

let n = 0;
interface Primary {
  db: WritableDb;
  runtime: Runtime;
  client: grpc.Client;
  seats(): string[];
  /** The access log's lines (one per request). */
  lines: Array<Record<string, unknown>>;
  metrics: ServiceMetrics;
}

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function startPrimary(idempotencyKeys: boolean): Promise<Primary> {
  const db = openWritable(join(dir, `db${n++}.sqlite`), [...SEAT_MIGRATIONS, IdempotencyKeysTable]);
  let commits = 0n;
  const metrics = createMetrics({ service: 'test', node: 'n1' });
  const writer = observingCommits(createWriter(db, { mode: 'batch', position: () => ++commits }), metrics);
  const silent = pino({ level: 'silent' });
  const lines: Array<Record<string, unknown>> = [];
  const record = (line: Record<string, unknown>) => void lines.push(line);
  const runtime: Runtime = {
    node,
    dbName: 'test.db',
    db,
    writer,
    forwarder: {} as Forwarder,
    verifier,
    log: silent,
    accessLog: { info: record, debug: record } as unknown as Logger,
    idempotencyKeys,
    metrics,
  };
  const client = await serve(runtime);
  cleanups.push(() => void db.close());
  const seats = () => (db.prepare('SELECT taken_by FROM seats ORDER BY id').all() as Array<{ taken_by: string }>).map((r) => r.taken_by);
  return { db, runtime, client, seats, lines, metrics };
}

/** Serves the test methods with `runtime` on a free port; the client is closed and the server stopped after the test. */
async function serve(runtime: Runtime): Promise<grpc.Client> {
  const server = new grpc.Server();
  server.addService(definition, bindService(runtime, definition, impls));
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  cleanups.push(() => new Promise<void>((r) => server.tryShutdown(() => r())));
  cleanups.push(() => client.close());
  return client;
}

interface Answer {
  response?: { seat: number };
  code: Status;
  details?: string;
  headers: grpc.Metadata;
}

function call(client: grpc.Client, method: string, body: TakeRequest, headers: Record<string, string> = { authorization: 'Bearer user-7' }): Promise<Answer> {
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(headers)) md.set(k, v);
  const m = definition[method]!;
  return new Promise((resolve) => {
    let received = new grpc.Metadata();
    const c = client.makeUnaryRequest(m.path, m.requestSerialize, m.responseDeserialize, body, md, (err, response) =>
      resolve(err ? { code: err.code, details: err.details, headers: received } : { response: response as { seat: number }, code: Status.OK, headers: received }),
    );
    c.on('metadata', (h: grpc.Metadata) => (received = h));
  });
}

const keyed = (key: string, user = 7) => ({ authorization: `Bearer user-${user}`, [IDEMPOTENCY_KEY_HEADER]: key });

describe('a service that honours idempotency keys', () => {
  test('the same request sent again with its key is answered from the first result, marked replayed, and done once', async () => {
    const p = await startPrimary(true);
    const first = await call(p.client, 'Take', { who: 'ada' }, keyed('k1'));
    assert.equal(first.code, Status.OK);
    assert.deepEqual(first.response, { seat: 1 });
    assert.deepEqual(first.headers.get(REPLAYED_HEADER), []);
    assert.ok(first.headers.get('x-txid').length === 1, 'a write answer carries its TXID');
    for (let i = 0; i < 2; i++) {
      const again = await call(p.client, 'Take', { who: 'ada' }, keyed('k1'));
      assert.equal(again.code, Status.OK);
      assert.deepEqual(again.response, { seat: 1 });
      assert.deepEqual(again.headers.get(REPLAYED_HEADER), ['true']);
    }
    assert.deepEqual(p.seats(), ['ada']);
    // The access log marks the replays, and never names the key.
    assert.deepEqual(p.lines.map((l) => [l.code, l.replayed]), [['OK', undefined], ['OK', true], ['OK', true]]);
    assert.ok(!JSON.stringify(p.lines).includes('k1'));
  });

  test('the key with another request is refused with INVALID_ARGUMENT; another user may use the same key', async () => {
    const p = await startPrimary(true);
    await call(p.client, 'Take', { who: 'ada' }, keyed('k1'));
    const other = await call(p.client, 'Take', { who: 'bob' }, keyed('k1'));
    assert.equal(other.code, Status.INVALID_ARGUMENT);
    assert.match(other.details!, /^idempotency-key: this key was already used for a different request/);
    const otherUser = await call(p.client, 'Take', { who: 'bob' }, keyed('k1', 8));
    assert.deepEqual([otherUser.code, otherUser.response], [Status.OK, { seat: 2 }]);
    assert.deepEqual(p.seats(), ['ada', 'bob']);
  });

  test('a malformed key is refused before anything runs; without a key every request runs', async () => {
    const p = await startPrimary(true);
    const bad = await call(p.client, 'Take', { who: 'ada' }, keyed('two words'));
    assert.equal(bad.code, Status.INVALID_ARGUMENT);
    assert.match(bad.details!, /^idempotency-key: must be 1 to 255 visible ASCII characters/);
    assert.deepEqual(p.seats(), []);
    const a = await call(p.client, 'Take', { who: 'ada' });
    const b = await call(p.client, 'Take', { who: 'bob' });
    assert.deepEqual([a.response, b.response], [{ seat: 1 }, { seat: 2 }]);
  });

  test('a method making two request writes is a bug: INTERNAL, and nothing about it in the answer', async () => {
    const p = await startPrimary(true);
    const out = await call(p.client, 'TakeTwice', { who: 'ada' }, keyed('k1'));
    assert.equal(out.code, Status.INTERNAL);
    assert.equal(out.details, 'internal error');
  });

  test("a forwarded call gets the method's headers back with its answer, for the replica to pass on", async () => {
    const p = await startPrimary(true);
    const route = forwardedRoutes(p.runtime, definition, impls).get('/test.v1.Seats/Take')!;
    const md = new grpc.Metadata();
    for (const [k, v] of Object.entries(keyed('k1'))) md.set(k, v);
    const body = Buffer.from(JSON.stringify({ who: 'ada' }));
    const first = await route(body, md, 'ipv4:127.0.0.1:1');
    const again = await route(body, md, 'ipv4:127.0.0.1:1');
    assert.deepEqual([first.code, again.code], [Status.OK, Status.OK]);
    assert.deepEqual(first.headers, []);
    assert.deepEqual(again.headers, [{ key: REPLAYED_HEADER, value: 'true' }]);
    assert.equal(again.response!.toString(), first.response!.toString());
    assert.deepEqual(p.seats(), ['ada']);
  });
});

test('a service that does not honour keys ignores them: each request runs', async () => {
  const p = await startPrimary(false);
  const a = await call(p.client, 'Take', { who: 'ada' }, keyed('k1'));
  const b = await call(p.client, 'Take', { who: 'bob' }, keyed('k1'));
  assert.deepEqual([a.response, b.response], [{ seat: 1 }, { seat: 2 }]);
  assert.deepEqual(b.headers.get(REPLAYED_HEADER), []);
  assert.equal((p.db.prepare('SELECT count(*) AS c FROM idempotency_keys').get() as { c: number }).c, 0);
});

/** A metric's values by their labels (the service's own `service` and `node` left out), as `k=v,…` → value. */
async function valuesOf(metrics: ServiceMetrics, name: string): Promise<Record<string, number>> {
  const metric = metrics.registry.getSingleMetric(name);
  assert.ok(metric, `${name} is registered`);
  const out: Record<string, number> = {};
  const values = (await metric.get()).values as Array<{ labels: Record<string, string | number>; value: number; metricName?: string }>;
  for (const { labels, value, metricName } of values) {
    const { service: _s, node: _n, ...own } = labels;
    const key = [metricName ?? name, ...Object.entries(own).map(([k, v]) => `${k}=${v}`)].join(',');
    out[key] = value;
  }
  return out;
}

test('the metrics count each answered call by method and status, the replays, and each commit once', async () => {
  const p = await startPrimary(true);
  const answers = await Promise.all([
    call(p.client, 'Take', { who: 'ada' }, keyed('k1')),
    call(p.client, 'Take', { who: 'bob' }),
    call(p.client, 'Take', { who: 'cy' }, { authorization: 'Bearer nobody' }),
  ]);
  assert.deepEqual(answers.map((a) => a.code), [Status.OK, Status.OK, Status.UNAUTHENTICATED]);
  await call(p.client, 'Take', { who: 'ada' }, keyed('k1'));
  const handled = await valuesOf(p.metrics, 'grpc_server_handled_total');
  assert.deepEqual(handled, {
    'grpc_server_handled_total,grpc_service=test.v1.Seats,grpc_method=Take,grpc_code=OK': 3,
    'grpc_server_handled_total,grpc_service=test.v1.Seats,grpc_method=Take,grpc_code=UNAUTHENTICATED': 1,
  });
  const timing = await valuesOf(p.metrics, 'grpc_server_handling_seconds');
  assert.equal(timing['grpc_server_handling_seconds_count,grpc_service=test.v1.Seats,grpc_method=Take'], 4);
  assert.deepEqual(await valuesOf(p.metrics, 'course_idempotent_replays_total'), { course_idempotent_replays_total: 1 });
  // Each write that committed came back with its commit's stats; the replay's write
  // committed nothing new, but its read of the key is a commit of its own.
  const commits = await valuesOf(p.metrics, 'course_commit_writes');
  const seats = p.seats().length;
  assert.equal(seats, 2);
  assert.ok(commits['course_commit_writes_count']! >= 2 && commits['course_commit_writes_count']! <= 3, JSON.stringify(commits));
  assert.equal(commits['course_commit_writes_sum'], 3, 'three writes reached the writer: two seats and the replay');
  // Nothing forwarded on a primary.
  assert.deepEqual(await valuesOf(p.metrics, 'course_forwarded_writes_total'), {});
});

describe('a read with x-max-staleness-ms', () => {
  /** A node whose LiteFS says it last heard from its primary `lag` ms ago (undefined: it cannot tell); counts the reads of `.lag`. */
  function nodeWithLag(lag: number | undefined) {
    const fake = { reads: 0, lagMs: () => (fake.reads++, Promise.resolve(lag)), acknowledge: () => undefined, position: () => 0n, waitForTxid: () => Promise.resolve(true) };
    return fake;
  }
  async function serveReads(lag: number | undefined, primary = false) {
    const fake = nodeWithLag(lag);
    const silent = pino({ level: 'silent' });
    const runtime: Runtime = {
      node: fake as unknown as LiteFsNode,
      dbName: 'test.db',
      db: {} as Runtime['db'],
      writer: primary ? ({} as Runtime['writer']) : undefined,
      forwarder: {} as Forwarder,
      verifier,
      log: silent,
      accessLog: silent,
    };
    return { client: await serve(runtime), fake };
  }
  const peek = (client: grpc.Client, bound?: string) =>
    call(client, 'Peek', { who: 'x' }, bound === undefined ? {} : { [MAX_STALENESS_HEADER]: bound });

  test('a replica within the bound answers; past it, or unable to tell, it refuses with a retryable UNAVAILABLE', async () => {
    const current = await serveReads(800);
    assert.equal((await peek(current.client, '1000')).code, Status.OK);
    assert.equal((await peek(current.client, '800')).code, Status.OK, 'the bound itself is within it');

    const behind = await serveReads(6200);
    const refused = await peek(behind.client, '5000');
    assert.equal(refused.code, Status.UNAVAILABLE);
    assert.equal(refused.details, 'this node last heard from its primary 6200 ms ago, more than x-max-staleness-ms allows (5000): retry, or read from another node');
    assert.equal((await peek(behind.client, '10000')).code, Status.OK);
    assert.equal((await peek(behind.client)).code, Status.OK, 'without the header a read is answered however stale');

    const blind = await serveReads(undefined);
    const unknown = await peek(blind.client, '5000');
    assert.equal(unknown.code, Status.UNAVAILABLE);
    assert.match(unknown.details!, /cannot tell how long ago it heard from its primary/);
  });

  test('the primary answers whatever the bound, without reading .lag; reads without the header never read it', async () => {
    const primary = await serveReads(99_999, true);
    assert.equal((await peek(primary.client, '0')).code, Status.OK);
    assert.equal(primary.fake.reads, 0);
    const replica = await serveReads(10);
    await peek(replica.client);
    assert.equal(replica.fake.reads, 0, 'no header, no read of .lag');
    await peek(replica.client, '0');
    assert.equal(replica.fake.reads, 1);
  });

  test('a bound that is not a whole number of milliseconds is refused with INVALID_ARGUMENT, on any node', async () => {
    for (const primary of [false, true]) {
      const { client, fake } = await serveReads(10, primary);
      for (const bad of ['-1', '1.5', 'soon', '', '1e3', '9999999999']) {
        const answer = await peek(client, bad);
        assert.equal(answer.code, Status.INVALID_ARGUMENT, `${JSON.stringify(bad)} on the ${primary ? 'primary' : 'replica'}`);
        assert.equal(answer.details, 'x-max-staleness-ms: must be a whole number of milliseconds');
      }
      assert.equal(fake.reads, 0);
    }
  });
});

describe("the client's address (auth_logs.request_ip)", () => {
  const md = (headers: Record<string, string>): grpc.Metadata => {
    const m = new grpc.Metadata();
    for (const [k, v] of Object.entries(headers)) m.set(k, v);
    return m;
  };

  test('the address Envoy named wins over x-forwarded-for and the peer', () => {
    // Envoy appends its host's own address to x-forwarded-for for a client on loopback.
    const both = md({ [CLIENT_ADDRESS_HEADER]: '127.0.0.1', 'x-forwarded-for': '203.0.113.9, 192.0.2.2' });
    assert.equal(clientIpOf(both, 'ipv4:127.0.0.1:40000'), '127.0.0.1');
    assert.equal(clientIpOf(md({ [CLIENT_ADDRESS_HEADER]: '2001:db8::7' }), 'ipv4:127.0.0.1:40000'), '2001:db8::7');
  });

  test('without it, the last x-forwarded-for entry, then the peer', () => {
    assert.equal(clientIpOf(md({ 'x-forwarded-for': '203.0.113.9, 198.51.100.4' }), 'ipv4:127.0.0.1:40000'), '198.51.100.4');
    assert.equal(clientIpOf(md({}), 'ipv4:10.1.2.3:40000'), '10.1.2.3');
    assert.equal(clientIpOf(md({}), 'ipv6:[::1]:40000'), '::1');
  });

  test('a value that is not an address is passed over', () => {
    for (const bad of ['', 'not an address', '127.0.0.1:8080', '<script>']) {
      assert.equal(clientIpOf(md({ [CLIENT_ADDRESS_HEADER]: bad }), 'ipv4:10.1.2.3:40000'), '10.1.2.3', JSON.stringify(bad));
    }
  });
});

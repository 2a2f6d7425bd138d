/**
 * The forwarding stream on a real grpc-js server and client in this process:
 * a replica's Forwarder (stream mode) against a primary's ForwardingServer
 * whose routes are test doubles (and the unary carrier against a plain
 * server). The real cluster's forwarding is covered by
 * test/e2e/replication.e2e.test.ts.
 */
import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { createServer, connect, type Socket } from 'node:net';
import { afterEach, describe, test } from 'node:test';
import { AppError, Status } from '../errors.js';
import { CLIENT_ADDRESS_HEADER, FORWARDED_HEADER, Forwarder, MaxForwardedMessageBytes } from './forward.js';
import { PEER_CHANNEL_OPTIONS } from './proto.js';
import { ForwardingServer } from './forward-server.js';
import type { ForwardedOutcome, ForwardedRoute } from './handler.js';
import type { Logger } from '../log.js';

/** A method definition with JSON bodies, standing in for a service's write. */
function jsonMethod(path: string): grpc.MethodDefinition<unknown, unknown> {
  const ser = (v: unknown) => Buffer.from(JSON.stringify(v));
  const de = (b: Buffer) => JSON.parse(b.toString()) as unknown;
  return { path, requestStream: false, responseStream: false, requestSerialize: ser, requestDeserialize: de, responseSerialize: ser, responseDeserialize: de };
}

const Enroll = jsonMethod('/test.v1.Svc/Enroll');
const Unknown = jsonMethod('/test.v1.Svc/NotAWrite');

interface Seen {
  body: { n: number; delayMs?: number; fail?: boolean; hang?: boolean };
  metadata: grpc.Metadata;
}

interface Primary {
  server: grpc.Server;
  forwarding: ForwardingServer;
  port: number;
  seen: Seen[];
  /** How many calls each message carried. */
  messages: number[];
}

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function startPrimary(port = 0): Promise<Primary> {
  const seen: Seen[] = [];
  const route: ForwardedRoute = async (bytes, metadata): Promise<ForwardedOutcome> => {
    const body = JSON.parse(bytes.toString()) as Seen['body'];
    seen.push({ body, metadata });
    if (body.hang) await new Promise(() => undefined);
    if (body.delayMs) await new Promise((r) => setTimeout(r, body.delayMs));
    if (body.fail) return { code: Status.FAILED_PRECONDITION, details: `section ${body.n} is full` };
    // Call 9's method set a response header of its own.
    const headers = body.n === 9 ? [{ key: 'idempotent-replayed', value: 'true' }] : [];
    return { code: Status.OK, details: '', response: Buffer.from(JSON.stringify({ echoed: body.n })), txid: BigInt(100 + body.n), headers };
  };
  const forwarding = new ForwardingServer();
  forwarding.addRoutes(new Map([[Enroll.path, route]]));
  const messages: number[] = [];
  const impl = forwarding.implementation();
  const server = new grpc.Server();
  server.addService(ForwardingServer.definition, {
    Forward: (call: grpc.ServerDuplexStream<{ calls: unknown[] }, unknown>) => {
      call.on('data', (m: { calls: unknown[] }) => messages.push(m.calls.length));
      (impl.Forward as (c: typeof call) => void)(call);
    },
  });
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  cleanups.push(() => void server.forceShutdown());
  return { server, forwarding, port: bound, seen, messages };
}

/** What the forwarder logged, as [level, message, fields]. */
type Logged = Array<[string, string, Record<string, unknown>]>;

function replicaOf(port: number, logged?: Logged): Forwarder {
  const record = (level: string) => (fields: Record<string, unknown>, msg: string) => void logged?.push([level, msg, fields]);
  const log = { info: record('info'), warn: record('warn') } as unknown as Logger;
  const forwarder = new Forwarder('node2', new Map([['node1', `127.0.0.1:${port}`]]), 'stream', log);
  cleanups.push(() => forwarder.close());
  return forwarder;
}

function callerMetadata(): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set('authorization', 'Bearer abc.def.ghi');
  md.set('x-request-id', 'req-1');
  md.set('user-agent', 'grpc-node-js/1.14'); // a hop header: not forwarded
  return md;
}

const inSeconds = (s: number) => new Date(Date.now() + s * 1000);

async function rejectsWithCode(p: Promise<unknown>, code: Status, pattern?: RegExp): Promise<AppError> {
  const err = await p.then(
    () => assert.fail('expected a rejection'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof AppError, `expected an AppError, got ${String(err)}`);
  assert.equal(err.code, code, `${Status[err.code]}: ${err.message}`);
  if (pattern) assert.match(err.message, pattern);
  return err;
}

describe('forwarding writes on a stream', () => {
  test("a turn's calls travel in one message and each gets its own answer, in any order", async () => {
    const primary = await startPrimary();
    const replica = replicaOf(primary.port);
    // Later calls finish first: answers must still reach the right callers.
    const results = await Promise.all(
      [1, 2, 3, 4, 5].map((n) => replica.forward('node1', Enroll, { n, delayMs: (6 - n) * 15 }, callerMetadata(), inSeconds(5), '10.9.8.7')),
    );
    assert.deepEqual(results.map((r) => r.response), [1, 2, 3, 4, 5].map((n) => ({ echoed: n })));
    assert.deepEqual(results.map((r) => r.txid), [101n, 102n, 103n, 104n, 105n]);
    assert.deepEqual(results.map((r) => r.headers?.toJSON()), [{}, {}, {}, {}, {}], 'no headers set, none relayed');
    assert.deepEqual(primary.messages, [5], 'five calls of one turn, one message');
    const md = primary.seen[0]!.metadata;
    assert.equal(md.get('authorization')[0], 'Bearer abc.def.ghi');
    assert.equal(md.get('x-request-id')[0], 'req-1');
    assert.equal(md.get(FORWARDED_HEADER)[0], 'node2', 'the hop marker names the replica');
    assert.deepEqual(md.get('user-agent'), [], 'hop-by-hop headers stay behind');
    assert.equal(md.get(CLIENT_ADDRESS_HEADER)[0], '10.9.8.7', 'a caller that came straight to the replica is named for the primary');

    const viaEnvoy = callerMetadata();
    viaEnvoy.set(CLIENT_ADDRESS_HEADER, '192.0.2.10');
    viaEnvoy.set('x-forwarded-for', '192.0.2.10');
    await replica.forward('node1', Enroll, { n: 6 }, viaEnvoy, inSeconds(5), '127.0.0.1');
    const relayed = primary.seen.find((s) => s.body.n === 6)!.metadata;
    assert.deepEqual(relayed.get(CLIENT_ADDRESS_HEADER), ['192.0.2.10'], "the address Envoy named is passed on as it is");
    assert.deepEqual(relayed.get('x-forwarded-for'), ['192.0.2.10'], 'so is x-forwarded-for');
  });

  test("the headers the primary's method set come back with its answer", async () => {
    const primary = await startPrimary();
    const replica = replicaOf(primary.port);
    const out = await replica.forward('node1', Enroll, { n: 9 }, callerMetadata(), inSeconds(5));
    assert.deepEqual(out.headers?.toJSON(), { 'idempotent-replayed': ['true'] });
  });

  test("the primary's refusal is relayed with its status, and the stream goes on", async () => {
    const primary = await startPrimary();
    const replica = replicaOf(primary.port);
    const [refused, ok] = await Promise.allSettled([
      replica.forward('node1', Enroll, { n: 7, fail: true }, callerMetadata(), inSeconds(5)),
      replica.forward('node1', Enroll, { n: 8 }, callerMetadata(), inSeconds(5)),
    ]);
    assert.equal(refused.status, 'rejected');
    await rejectsWithCode(Promise.reject((refused as PromiseRejectedResult).reason), Status.FAILED_PRECONDITION, /section 7 is full/);
    assert.deepEqual((ok as PromiseFulfilledResult<{ response: unknown }>).value.response, { echoed: 8 });
    await rejectsWithCode(replica.forward('node1', Unknown, { n: 9 }, callerMetadata(), inSeconds(5)), Status.UNIMPLEMENTED);
    assert.deepEqual((await replica.forward('node1', Enroll, { n: 10 }, callerMetadata(), inSeconds(5))).response, { echoed: 10 });
  });

  test("a caller's deadline ends its wait; the primary does not start a call past its deadline", async () => {
    const primary = await startPrimary();
    const replica = replicaOf(primary.port);
    const started = Date.now();
    await rejectsWithCode(replica.forward('node1', Enroll, { n: 1, hang: true }, callerMetadata(), new Date(Date.now() + 150)), Status.DEADLINE_EXCEEDED);
    assert.ok(Date.now() - started < 2_000, 'the caller did not wait for the hung call');
    await rejectsWithCode(replica.forward('node1', Enroll, { n: 2 }, callerMetadata(), new Date(Date.now() - 1)), Status.DEADLINE_EXCEEDED);
    assert.equal(primary.seen.filter((s) => s.body.n === 2).length, 0, 'an expired call never reached the route');
  });

  test('an unknown primary, a lost primary and an absent primary give UNAVAILABLE; the next primary on the port is used', async () => {
    const primary = await startPrimary();
    const logged: Logged = [];
    const replica = replicaOf(primary.port, logged);
    await rejectsWithCode(replica.forward(undefined, Enroll, { n: 1 }, callerMetadata(), inSeconds(5)), Status.UNAVAILABLE, /primary is unknown/);
    await rejectsWithCode(replica.forward('node9', Enroll, { n: 1 }, callerMetadata(), inSeconds(5)), Status.UNAVAILABLE);

    const hung = replica.forward('node1', Enroll, { n: 2, hang: true }, callerMetadata(), inSeconds(5));
    while (primary.seen.length === 0) await new Promise((r) => setTimeout(r, 5));
    primary.server.forceShutdown();
    await rejectsWithCode(hung, Status.UNAVAILABLE, /retry/);
    const ended = logged.find(([level]) => level === 'warn');
    assert.ok(ended, 'the lost stream is logged');
    assert.equal(ended[2].unanswered, 1, 'with the number of writes it left without an answer');
    await rejectsWithCode(replica.forward('node1', Enroll, { n: 3 }, callerMetadata(), inSeconds(5)), Status.UNAVAILABLE, /unreachable/);

    const next = await startPrimary(primary.port);
    // grpc-js reconnects with a backoff of at most PEER_CHANNEL_OPTIONS' second.
    let answer: unknown;
    for (let i = 0; i < 40 && answer === undefined; i++) {
      answer = await replica.forward('node1', Enroll, { n: 4 }, callerMetadata(), inSeconds(5)).then(
        (r) => r.response,
        () => new Promise((r) => setTimeout(r, 100)).then(() => undefined),
      );
    }
    assert.deepEqual(answer, { echoed: 4 });
    assert.ok(next.seen.some((s) => s.body.n === 4));
  });

  test('a primary that goes silent without closing the connection is noticed by keepalive, not at the deadline', async () => {
    const primary = await startPrimary();
    // A TCP relay between replica and primary that can stop passing bytes while keeping both sockets open.
    let silent = false;
    const sockets: Socket[] = [];
    const relay = createServer((inbound) => {
      const outbound = connect(primary.port, '127.0.0.1');
      sockets.push(inbound, outbound);
      inbound.on('data', (b) => void (silent || outbound.write(b)));
      outbound.on('data', (b) => void (silent || inbound.write(b)));
      inbound.on('error', () => outbound.destroy());
      outbound.on('error', () => inbound.destroy());
    });
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
    cleanups.push(() => {
      for (const s of sockets) s.destroy();
      relay.close();
    });
    const port = (relay.address() as { port: number }).port;
    const fastPings = { ...PEER_CHANNEL_OPTIONS, 'grpc.keepalive_time_ms': 300, 'grpc.keepalive_timeout_ms': 300 };
    const replica = new Forwarder('node2', new Map([['node1', `127.0.0.1:${port}`]]), 'stream', undefined, fastPings);
    cleanups.push(() => replica.close());

    assert.deepEqual((await replica.forward('node1', Enroll, { n: 1 }, callerMetadata(), inSeconds(5))).response, { echoed: 1 });
    silent = true;
    const started = Date.now();
    await rejectsWithCode(replica.forward('node1', Enroll, { n: 2 }, callerMetadata(), inSeconds(30)), Status.UNAVAILABLE, /retry/);
    const waited = Date.now() - started;
    assert.ok(waited < 5_000, `failed after ${waited} ms: keepalive, not the 30 s deadline`);
  });

  test('drain answers the calls in flight, refuses new ones and lets the server stop at once', async () => {
    const primary = await startPrimary();
    const replica = replicaOf(primary.port);
    await replica.forward('node1', Enroll, { n: 1 }, callerMetadata(), inSeconds(5)); // the stream is open
    const slow = replica.forward('node1', Enroll, { n: 2, delayMs: 200 }, callerMetadata(), inSeconds(5));
    while (!primary.seen.some((s) => s.body.n === 2)) await new Promise((r) => setTimeout(r, 5));
    primary.forwarding.drain();
    await rejectsWithCode(replica.forward('node1', Enroll, { n: 3 }, callerMetadata(), inSeconds(5)), Status.UNAVAILABLE, /shutting down/);
    const stopped = new Promise<number>((resolve) => {
      const t = Date.now();
      primary.server.tryShutdown(() => resolve(Date.now() - t));
    });
    assert.deepEqual((await slow).response, { echoed: 2 }, 'the call in flight still gets its answer');
    assert.ok((await stopped) < 2_000, 'the server stopped without waiting out the stream');
  });

  test('a request too large to forward is refused alone', async () => {
    const primary = await startPrimary();
    const replica = replicaOf(primary.port);
    const big = { n: 1, pad: 'x'.repeat(MaxForwardedMessageBytes) };
    const [tooBig, fine] = await Promise.allSettled([
      replica.forward('node1', Enroll, big, callerMetadata(), inSeconds(5)),
      replica.forward('node1', Enroll, { n: 2 }, callerMetadata(), inSeconds(5)),
    ]);
    await rejectsWithCode(Promise.reject((tooBig as PromiseRejectedResult).reason), Status.RESOURCE_EXHAUSTED);
    assert.equal(fine.status, 'fulfilled');
  });
});

describe('forwarding writes as unary calls (FORWARD_MODE=unary)', () => {
  test("each write is the same method called on the primary; its TXID, its method's headers and refusals come back", async () => {
    const seen: grpc.Metadata[] = [];
    const server = new grpc.Server();
    server.addService({ Enroll } as grpc.ServiceDefinition, {
      Enroll: (call: grpc.ServerUnaryCall<{ n: number; fail?: boolean }, unknown>, callback: grpc.sendUnaryData<unknown>) => {
        seen.push(call.metadata);
        if (call.request.fail) return callback({ code: Status.FAILED_PRECONDITION, details: 'full' });
        const headers = new grpc.Metadata();
        headers.set('x-txid', String(200 + call.request.n));
        headers.set('idempotent-replayed', 'true');
        call.sendMetadata(headers);
        callback(null, { echoed: call.request.n });
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    cleanups.push(() => void server.forceShutdown());
    const replica = new Forwarder('node3', new Map([['node1', `127.0.0.1:${port}`]]), 'unary');
    cleanups.push(() => replica.close());

    const ok = await replica.forward('node1', Enroll, { n: 5 }, callerMetadata(), inSeconds(5));
    assert.deepEqual([ok.response, ok.txid], [{ echoed: 5 }, 205n]);
    // The method's own header comes back; the TXID and the transport's headers do not.
    assert.deepEqual(ok.headers?.toJSON(), { 'idempotent-replayed': ['true'] });
    assert.equal(seen[0]!.get(FORWARDED_HEADER)[0], 'node3');
    assert.equal(seen[0]!.get('authorization')[0], 'Bearer abc.def.ghi');
    await rejectsWithCode(replica.forward('node1', Enroll, { n: 6, fail: true }, callerMetadata(), inSeconds(5)), Status.FAILED_PRECONDITION, /full/);
  });
});

/**
 * The one wrapper every unary RPC goes through. Each method is declared a
 * `read` or a `write`; the wrapper then takes care of, in order:
 *
 * - a request id, and a child logger bound to it (created when first used);
 * - writes on a replica: forwarding to the primary, then waiting (bounded)
 *   until this node has replicated the primary's commit, so the caller can
 *   read its own write here at once;
 * - reads carrying `x-max-staleness-ms`: on a replica that last heard from
 *   its primary longer ago than that, a retryable UNAVAILABLE;
 * - reads carrying `x-min-txid`: waiting (bounded) until this node has that
 *   TXID, else a retryable UNAVAILABLE;
 * - the TXID of a write in the response metadata (`x-txid`);
 * - for a service that honours them, the caller's `idempotency-key` on the
 *   request's own write (`requestWrite`, see lib/idempotency.ts);
 * - mapping any thrown value to a status exactly once (lib/errors.ts) and one
 *   log line per request (status, duration), never with secrets;
 * - counting the call in the service's metrics (lib/metrics.ts): by method
 *   and status, and on a replica the forwarded write and its wait.
 *
 * Handlers see a CallContext, never the transport. The same handling serves
 * a direct unary call (`bindService`) and a call a replica forwarded on its
 * stream (`forwardedRoutes`, used by lib/grpc/forward-server.ts).
 */
import * as grpc from '@grpc/grpc-js';
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { isIP } from 'node:net';
import { RETRY_AFTER_HEADER, Status, invalidArgument, toGrpcStatus, unauthenticated, unavailable, type GrpcStatus } from '../errors.js';
import type { LiteFsNode } from '../litefs.js';
import type { Logger } from '../log.js';
import type { ReadableDb } from '../sqlite.js';
import type { WriteOp, Writer } from '../writer.js';
import { CLIENT_ADDRESS_HEADER, FORWARDED_HEADER, Forwarder, TXID_HEADER, headersOf, parseTxid } from './forward.js';
import type { Identity, TokenVerifier } from './identity.js';
import type { Header } from '../../gen/ts/internal/v1/Header.js';
import { REPLAYED_HEADER, idempotencyKeyOf, requestDigest, writeOnce, type IdempotentRequest } from '../idempotency.js';
import type { ServiceMetrics } from '../metrics.js';

/** Request metadata: the TXID a read must see. */
export const MIN_TXID_HEADER = 'x-min-txid';
/** Request metadata: how long ago, at most, a replica answering the read may have last heard from its primary. */
export const MAX_STALENESS_HEADER = 'x-max-staleness-ms';
/** How long a forwarded write waits for its commit to replicate to this node. */
export const DefaultReadYourWritesTimeoutMs = 5_000;
/** How long a read waits for `x-min-txid`. */
export const DefaultMinTxidTimeoutMs = 2_000;

export interface CallContext {
  readonly method: string;
  readonly requestId: string;
  readonly log: Logger;
  readonly metadata: grpc.Metadata;
  /** The client's address as Envoy saw it (`x-client-address`), else the last x-forwarded-for entry, else the peer. */
  readonly clientIp: string;
  /** This node's database: read-only on a replica. */
  readonly db: ReadableDb;
  /** The verified caller; UNAUTHENTICATED when there is no valid bearer token. */
  identity(): Promise<Identity>;
  /** The verified caller if a token was sent; a present but invalid token is still UNAUTHENTICATED. */
  optionalIdentity(): Promise<Identity | undefined>;
  /** Runs `op` in a write transaction on the primary; the commit's TXID goes into the response. */
  write<A, R>(op: WriteOp<A, R>, args: A): Promise<R>;
  /**
   * The request's own write (at most one per call), as `write`; when the
   * service honours idempotency keys and the caller sent one, it runs once
   * per key and a repeat is answered from the stored result (lib/idempotency.ts).
   */
  requestWrite<A, R>(op: WriteOp<A, R>, args: A): Promise<R>;
  /** Adds a response header (initial metadata), e.g. cache-control. */
  setHeader(key: string, value: string): void;
  /** The `x-min-txid` a read carried (this node has reached it by the time the handler runs). */
  readonly minTxid?: bigint;
}

/** The call being served, so a domain's injected write function can find it. */
const callStore = new AsyncLocalStorage<CallContext>();

export function currentCall(): CallContext | undefined {
  return callStore.getStore();
}

export type HandlerFn<Req, Res> = (ctx: CallContext, req: Req) => Promise<Res>;

export interface MethodOptions {
  /**
   * Its successful calls are logged at debug, not info: for a method that a
   * service polls in the background (every few seconds, forever), whose lines
   * would bury the requests of users. Refusals and failures are logged as usual.
   */
  quiet?: boolean;
}

export interface MethodImpl<Req = any, Res = any> extends MethodOptions {
  kind: 'read' | 'write';
  fn: HandlerFn<Req, Res>;
}

export function read<Req, Res>(fn: HandlerFn<Req, Res>, opts: MethodOptions = {}): MethodImpl<Req, Res> {
  return { kind: 'read', fn, ...opts };
}

export function write<Req, Res>(fn: HandlerFn<Req, Res>, opts: MethodOptions = {}): MethodImpl<Req, Res> {
  return { kind: 'write', fn, ...opts };
}

/** What the wrapper needs from the running service. */
export interface Runtime {
  node: LiteFsNode;
  dbName: string;
  db: ReadableDb;
  /** Only on the primary. */
  writer?: Writer;
  forwarder: Forwarder;
  verifier: TokenVerifier;
  log: Logger;
  /** Writes the one line per request (fixed fields only: see createAccessLogger). */
  accessLog: Logger;
  /** Whether write calls may carry an `idempotency-key` (the database has the table, lib/idempotency.ts). */
  idempotencyKeys?: boolean;
  /** Where each answered call is counted (lib/metrics.ts). */
  metrics?: ServiceMetrics;
}

function firstValue(md: grpc.Metadata, key: string): string | undefined {
  const v = md.get(key)[0];
  return v === undefined ? undefined : String(v);
}

export function clientIpOf(md: grpc.Metadata, peer: string): string {
  const named = firstValue(md, CLIENT_ADDRESS_HEADER)?.trim();
  if (named && isIP(named)) return named;
  const xff = firstValue(md, 'x-forwarded-for');
  if (xff) {
    const parts = xff.split(',').map((s) => s.trim()).filter(Boolean);
    const last = parts[parts.length - 1];
    if (last) return last;
  }
  // grpc-js peers look like "ipv4:127.0.0.1:5432" or "ipv6:[::1]:5432".
  const m = /^ipv[46]:\[?([^\]]+?)\]?:\d+$/.exec(peer);
  return m ? m[1]! : peer;
}

class Context implements CallContext {
  txid?: bigint;
  minTxid?: bigint;
  /** The caller's key for this write and what identifies the request (set by serveCall). */
  idempotent?: IdempotentRequest;
  readonly headers = new grpc.Metadata();
  private verified?: Promise<Identity | undefined>;
  private childLog?: Logger;
  private requestWritten = false;

  constructor(
    readonly method: string,
    readonly requestId: string,
    readonly metadata: grpc.Metadata,
    readonly clientIp: string,
    private readonly runtime: Runtime,
  ) {}

  /** The request's logger (bound to its id, method and client), made on first use. */
  get log(): Logger {
    return (this.childLog ??= this.runtime.log.child({ rid: this.requestId, method: this.method, ip: this.clientIp }));
  }

  get db(): ReadableDb {
    return this.runtime.db;
  }

  optionalIdentity(): Promise<Identity | undefined> {
    if (!this.verified) {
      const header = firstValue(this.metadata, 'authorization');
      if (header === undefined) {
        this.verified = Promise.resolve(undefined);
      } else {
        const m = /^Bearer\s+(\S+)$/i.exec(header);
        this.verified = m ? this.runtime.verifier.verify(m[1]!) : Promise.reject(unauthenticated('authorization must be "Bearer <token>"'));
      }
    }
    return this.verified;
  }

  async identity(): Promise<Identity> {
    const who = await this.optionalIdentity();
    if (!who) throw unauthenticated('a bearer token is required');
    return who;
  }

  setHeader(key: string, value: string): void {
    this.headers.set(key, value);
  }

  async write<A, R>(op: WriteOp<A, R>, args: A): Promise<R> {
    const writer = this.runtime.writer;
    if (!writer) throw unavailable('this node is not the primary: retry');
    const { value, txid } = await writer.run(op, args);
    if (this.txid === undefined || txid > this.txid) this.txid = txid;
    return value;
  }

  async requestWrite<A, R>(op: WriteOp<A, R>, args: A): Promise<R> {
    // A key stands for one write: a second would be replayed as the first.
    if (this.requestWritten) throw new Error(`${this.method} made a second request write`);
    this.requestWritten = true;
    if (!this.idempotent) return this.write(op, args);
    const { userId } = await this.identity();
    const once = await writeOnce(this.write.bind(this), userId, this.idempotent, op, args);
    if (once.replayed) this.setHeader(REPLAYED_HEADER, 'true');
    return once.value;
  }
}

/**
 * Builds the grpc-js implementation of a service from its method table.
 * Every method of the service definition must have an implementation.
 */
export function bindService(
  runtime: Runtime,
  definition: grpc.ServiceDefinition,
  impls: Record<string, MethodImpl>,
): grpc.UntypedServiceImplementation {
  const out: grpc.UntypedServiceImplementation = {};
  for (const [name, method] of Object.entries(definition)) {
    const impl = impls[name];
    if (!impl) throw new Error(`no implementation for ${method.path}`);
    out[name] = unaryHandler(runtime, method as grpc.MethodDefinition<unknown, unknown>, impl);
  }
  return out;
}

/**
 * The write methods of a service, by full path, for calls a replica forwards
 * over its stream (lib/grpc/forward.ts): the same handling as a direct call,
 * from serialized request to serialized response.
 */
export function forwardedRoutes(
  runtime: Runtime,
  definition: grpc.ServiceDefinition,
  impls: Record<string, MethodImpl>,
): Map<string, ForwardedRoute> {
  const routes = new Map<string, ForwardedRoute>();
  for (const [name, def] of Object.entries(definition)) {
    const impl = impls[name];
    if (impl?.kind !== 'write') continue;
    const method = def as grpc.MethodDefinition<unknown, unknown>;
    routes.set(method.path, async (bytes, metadata, peer) => {
      let request: unknown;
      try {
        request = method.requestDeserialize(bytes);
      } catch {
        return { code: Status.INVALID_ARGUMENT, details: 'the forwarded request could not be parsed' };
      }
      const out = await serveCall(runtime, method, impl, request, metadata, peer, Infinity);
      // A refusal's trailers (retry-after) travel back as its headers.
      if ('code' in out) return { code: out.code, details: out.details, headers: headersOf(errorAnswer(out).metadata) };
      return { code: Status.OK, details: '', response: method.responseSerialize(out.response), txid: out.txid, headers: headersOf(out.headers) };
    });
  }
  return routes;
}

/** A forwarded call's answer: a status, and for OK the serialized response and the headers the method set. */
export interface ForwardedOutcome {
  code: Status;
  details: string;
  response?: Buffer;
  txid?: bigint;
  headers?: Header[];
}

export type ForwardedRoute = (request: Buffer, metadata: grpc.Metadata, peer: string) => Promise<ForwardedOutcome>;

function unaryHandler(runtime: Runtime, method: grpc.MethodDefinition<unknown, unknown>, impl: MethodImpl): grpc.handleUnaryCall<unknown, unknown> {
  return (call, callback) => {
    serveCall(runtime, method, impl, call.request, call.metadata, call.getPeer(), call.getDeadline()).then((out) => {
      if ('code' in out) return callback(errorAnswer(out));
      if (out.txid !== undefined) out.headers.set(TXID_HEADER, out.txid.toString());
      call.sendMetadata(out.headers);
      callback(null, out.response);
    });
  };
}

type Served = { response: unknown; txid?: bigint; headers: grpc.Metadata } | GrpcStatus;

/** A refusal as grpc-js sends it: the status, and `retry-after` in its trailers when the error says when to try again. */
function errorAnswer(status: GrpcStatus): grpc.ServerErrorResponse & { metadata: grpc.Metadata } {
  const metadata = new grpc.Metadata();
  if (status.retryAfterSeconds !== undefined) metadata.set(RETRY_AFTER_HEADER, String(status.retryAfterSeconds));
  return { name: Status[status.code], message: status.details, code: status.code, details: status.details, metadata };
}

/**
 * One call, whatever carried it: forwarding or running the handler, the
 * status mapping, and the one access-log line. Never rejects.
 */
async function serveCall(
  runtime: Runtime,
  method: grpc.MethodDefinition<unknown, unknown>,
  impl: MethodImpl,
  request: unknown,
  md: grpc.Metadata,
  peer: string,
  deadline: grpc.Deadline,
): Promise<Served> {
  const methodName = method.path;
  const started = process.hrtime.bigint();
  const requestId = firstValue(md, 'x-request-id') ?? randomUUID();
  const clientIp = clientIpOf(md, peer);
  const ctx = new Context(methodName, requestId, md, clientIp, runtime);
  const access = { rid: requestId, method: methodName, ip: clientIp };
  let forwarded = false;
  /** For a forwarded write: the milliseconds spent waiting for its TXID to arrive here. */
  let waitMs: number | undefined;
  const msSince = (t: bigint) => Math.round(Number(process.hrtime.bigint() - t) / 1e4) / 100; // 2 decimals

  /** Counts the answered call (and, on a replica, the forwarded write) in the service's metrics. */
  const count = (code: string, ms: number) => {
    runtime.metrics?.call(methodName, code, ms / 1000);
    if (forwarded) runtime.metrics?.forwarded(code, waitMs === undefined ? undefined : waitMs / 1000);
  };

  const failed = (err: unknown): Served => {
    const status = toGrpcStatus(err);
    const line = { code: Status[status.code], ms: msSince(started), forwarded };
    count(line.code, line.ms);
    if (status.code === Status.INTERNAL) ctx.log.error({ ...line, err }, 'request failed');
    else runtime.accessLog.info({ ...access, ...line, details: status.details }, 'request refused');
    return status;
  };
  const done = (response: unknown, txid: bigint | undefined, headers: grpc.Metadata): Served => {
    // A write answered from an idempotency key's stored result is marked (never the key itself).
    const replayed = headers.get(REPLAYED_HEADER).length > 0 ? true : undefined;
    const line = { ...access, code: 'OK', ms: msSince(started), forwarded, wait_ms: waitMs, txid: txid?.toString(), replayed };
    count(line.code, line.ms);
    // Counted where the key's result was read: a replica only relays the mark.
    if (replayed && !forwarded) runtime.metrics?.replayed();
    // Reads answered here from now on must include this write (lib/read-memo.ts, `floor`).
    if (txid !== undefined) runtime.node.acknowledge(runtime.dbName, txid);
    if (impl.quiet) runtime.accessLog.debug(line, 'request done');
    else runtime.accessLog.info(line, 'request done');
    return { response, txid, headers };
  };

  try {
    if (impl.kind === 'write' && !runtime.writer) {
      // A write on a replica: the primary does it, we wait to have it too.
      if (md.get(FORWARDED_HEADER).length > 0) {
        throw unavailable('a forwarded write reached a replica: the primary has moved, retry');
      }
      forwarded = true;
      const info = await runtime.node.describe();
      const { response, txid, headers } = await runtime.forwarder.forward(info.primaryHostname, method, request, md, deadline, clientIp);
      if (txid !== undefined) {
        const waitStarted = process.hrtime.bigint();
        const reached = await runtime.node.waitForTxid(runtime.dbName, txid, DefaultReadYourWritesTimeoutMs);
        waitMs = msSince(waitStarted);
        if (!reached) ctx.log.warn({ txid: txid.toString() }, 'write committed on the primary but not yet replicated here');
      }
      return done(response, txid, headers ?? new grpc.Metadata());
    }
    if (impl.kind === 'read') {
      await refuseIfStale(runtime, md);
      ctx.minTxid = await waitForMinTxid(runtime, md);
    }
    if (impl.kind === 'write' && runtime.idempotencyKeys) {
      const key = idempotencyKeyOf(md);
      if (key !== undefined) ctx.idempotent = { key, digest: requestDigest(methodName, method.requestSerialize(request)) };
    }
    const response = await callStore.run(ctx, () => impl.fn(ctx, request));
    return done(response, ctx.txid, ctx.headers);
  } catch (err) {
    // A thrown `undefined` must still count as a failure.
    return failed(err ?? new Error('handler threw undefined'));
  }
}

/**
 * Refuses a read carrying `x-max-staleness-ms` on a replica that last heard from its
 * primary (a transaction or LiteFS's heartbeat, every second) longer ago than that, or
 * cannot tell: `.lag` is read afresh for it. The primary is never behind itself.
 */
async function refuseIfStale(runtime: Runtime, md: grpc.Metadata): Promise<void> {
  const raw = firstValue(md, MAX_STALENESS_HEADER)?.trim();
  if (raw === undefined) return;
  if (!/^\d{1,9}$/.test(raw)) throw invalidArgument(MAX_STALENESS_HEADER, 'must be a whole number of milliseconds');
  if (runtime.writer) return;
  const bound = Number(raw);
  const lag = await runtime.node.lagMs();
  if (lag === undefined) throw unavailable('this node cannot tell how long ago it heard from its primary: retry, or read from another node');
  if (lag > bound) {
    throw unavailable(`this node last heard from its primary ${lag} ms ago, more than ${MAX_STALENESS_HEADER} allows (${bound}): retry, or read from another node`);
  }
}

/** Waits until this node has the read's `x-min-txid`, and returns it (undefined when none was sent). */
async function waitForMinTxid(runtime: Runtime, md: grpc.Metadata): Promise<bigint | undefined> {
  const raw = firstValue(md, MIN_TXID_HEADER);
  if (raw === undefined) return undefined;
  const wanted = parseTxid(raw.trim());
  if (wanted === undefined) throw invalidArgument(MIN_TXID_HEADER, 'must be a decimal TXID');
  if (await runtime.node.waitForTxid(runtime.dbName, wanted, DefaultMinTxidTimeoutMs)) return wanted;
  const at = runtime.node.position(runtime.dbName);
  throw unavailable(`this node has not yet replicated TXID ${wanted} (it is at ${at}): retry, or read from another node`);
}

/**
 * Forwarding a write RPC from a replica to the primary's copy of the same
 * service: same method, same request, the caller's metadata (plus a hop
 * marker so a call is forwarded at most once), the caller's deadline (capped),
 * and the primary's answer relayed as it is, status codes included.
 *
 * Two carriers (FORWARD_MODE):
 * - `stream` (default): one long-lived WriteForwarding.Forward stream per
 *   primary (proto/internal/v1/forwarding.proto); the writes of one
 *   event-loop turn go out as one message, answers come back matched by id;
 *   the primary's side is lib/grpc/forward-server.ts.
 * - `unary`: one unary call per write to the same method on the primary.
 */
import * as grpc from '@grpc/grpc-js';
import type { ForwardedAnswer__Output } from '../../gen/ts/internal/v1/ForwardedAnswer.js';
import type { ForwardedAnswers__Output } from '../../gen/ts/internal/v1/ForwardedAnswers.js';
import type { ForwardedCall } from '../../gen/ts/internal/v1/ForwardedCall.js';
import type { ForwardedCalls } from '../../gen/ts/internal/v1/ForwardedCalls.js';
import type { Header } from '../../gen/ts/internal/v1/Header.js';
import { AppError, RETRY_AFTER_HEADER, Status, unavailable } from '../errors.js';
import type { Logger } from '../log.js';
import { PEER_CHANNEL_OPTIONS, loadProto, serviceClient } from './proto.js';

/** Metadata key marking a call that a replica forwarded. */
export const FORWARDED_HEADER = 'x-forwarded-write';
/**
 * Metadata key naming the client's address. Envoy sets it on every request
 * it passes on, replacing any value the client sent
 * (`%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%`); a replica forwarding a write
 * from a caller that came to it directly sets it to that caller's address.
 * x-forwarded-for cannot serve here: for a client on loopback Envoy appends
 * its host's own address to it, not 127.0.0.1.
 */
export const CLIENT_ADDRESS_HEADER = 'x-client-address';
/** Metadata key carrying the TXID a write committed at. */
export const TXID_HEADER = 'x-txid';
/** A forwarded call never waits longer than this, whatever the caller's deadline. */
export const DefaultForwardTimeoutMs = 10_000;

/** Transport headers that belong to one hop and must not be copied to the next. */
const HOP_HEADERS = ['user-agent', 'content-type', 'te', 'host', 'grpc-accept-encoding', 'accept-encoding', 'grpc-encoding', 'grpc-timeout'];

export type ForwardMode = 'stream' | 'unary';

/** The WriteForwarding.Forward method, loaded once (both ends use it). */
export const ForwardMethod = serviceClient(loadProto('internal/v1/forwarding.proto').grpcObject, 'internal.v1.WriteForwarding').service
  .Forward as grpc.MethodDefinition<ForwardedCalls, ForwardedAnswers__Output>;

/**
 * The largest message sent on the stream (a turn's calls are split to stay
 * under it): the primary's server refuses bigger messages, and a refused
 * message would end the stream for every call on it. Requests themselves are
 * capped lower (MaxMessageBytes in service.ts).
 */
export const MaxForwardedMessageBytes = 256 * 1024;

export interface ForwardResult {
  response: unknown;
  txid?: bigint;
  /** The response headers the primary's method set (the TXID and the transport's own left out). */
  headers?: grpc.Metadata;
}

/** Response headers of the transport or of forwarding itself, never relayed as the method's own. */
function isTransportHeader(key: string): boolean {
  return key === TXID_HEADER || key === 'content-type' || key === 'date' || key.startsWith('grpc-');
}

/** One write on its way to the primary, whichever carrier takes it. */
interface OutgoingCall {
  method: grpc.MethodDefinition<unknown, unknown>;
  request: unknown;
  /** The caller's metadata, hop headers removed, hop marker added. */
  metadata: grpc.Metadata;
  /** Unix ms: the caller's deadline, or our own cap if sooner. */
  deadlineMs: number;
  /** The deadline is our cap: running out of time means the primary did not answer. */
  ourCap: boolean;
}

export class Forwarder {
  private readonly clients = new Map<string, grpc.Client>();
  /** Stream mode: one stream per primary address. */
  private readonly streams = new Map<string, ForwardStream>();

  constructor(
    private readonly nodeName: string,
    private readonly peers: Map<string, string>,
    private readonly mode: ForwardMode = 'stream',
    private readonly log?: Logger,
    private readonly channelOptions: grpc.ChannelOptions = PEER_CHANNEL_OPTIONS,
  ) {}

  async forward(
    primaryHostname: string | undefined,
    method: grpc.MethodDefinition<unknown, unknown>,
    request: unknown,
    incoming: grpc.Metadata,
    deadline: grpc.Deadline,
    /** The caller's address as this node saw it: passed on when no proxy has named the client. */
    clientIp?: string,
  ): Promise<ForwardResult> {
    const address = primaryHostname === undefined ? undefined : this.peers.get(primaryHostname);
    if (address === undefined) {
      throw unavailable('the primary is unknown to this node: writes are unavailable, reads still work');
    }
    const metadata = incoming.clone();
    for (const key of HOP_HEADERS) metadata.remove(key);
    metadata.set(FORWARDED_HEADER, this.nodeName);
    // The primary records the client's address (auth_logs.request_ip). Through Envoy it is
    // already there; a caller that came straight to this node is named here, or the primary
    // would record this replica instead.
    if (clientIp && metadata.get(CLIENT_ADDRESS_HEADER).length === 0) metadata.set(CLIENT_ADDRESS_HEADER, clientIp);

    const cap = Date.now() + DefaultForwardTimeoutMs;
    const callerDeadline = deadline instanceof Date ? deadline.getTime() : deadline;
    const effective = Math.min(cap, Number.isFinite(callerDeadline) ? callerDeadline : cap);

    const call: OutgoingCall = { method, request, metadata, deadlineMs: effective, ourCap: effective === cap };
    const client = this.client(address);
    if (this.mode === 'unary') return unaryForward(client, call);
    let stream = this.streams.get(address);
    if (!stream) this.streams.set(address, (stream = new ForwardStream(client, this.nodeName, address, this.log)));
    return stream.send(call);
  }

  close(): void {
    for (const stream of this.streams.values()) stream.close();
    this.streams.clear();
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }

  private client(address: string): grpc.Client {
    let client = this.clients.get(address);
    if (!client) {
      client = new grpc.Client(address, grpc.credentials.createInsecure(), this.channelOptions);
      this.clients.set(address, client);
    }
    return client;
  }
}

/** The `unary` carrier: the same method called on the primary, its TXID read from the response headers. */
function unaryForward(client: grpc.Client, { method, request, metadata, deadlineMs, ourCap }: OutgoingCall): Promise<ForwardResult> {
  return new Promise<ForwardResult>((resolve, reject) => {
    let txid: bigint | undefined;
    let headers = new grpc.Metadata();
    const call = client.makeUnaryRequest(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      request,
      metadata,
      { deadline: deadlineMs },
      (err, response) => {
        if (err) return reject(relayError(err, ourCap));
        resolve({ response, txid, headers });
      },
    );
    call.on('metadata', (md: grpc.Metadata) => {
      const value = md.get(TXID_HEADER)[0];
      if (value !== undefined) txid = parseTxid(String(value));
      headers = metadataOf(headersOf(md).filter((h) => !isTransportHeader(h.key)));
    });
  });
}

interface Pending {
  method: grpc.MethodDefinition<unknown, unknown>;
  resolve(result: ForwardResult): void;
  reject(err: AppError): void;
  timer: NodeJS.Timeout;
}

/**
 * A replica's stream to one primary. Opened by the first call, shared by all
 * calls after it, and opened again by the next call once it has ended. When it
 * ends, every call still waiting on it fails with UNAVAILABLE (retryable).
 */
class ForwardStream {
  private call?: grpc.ClientDuplexStream<ForwardedCalls, ForwardedAnswers__Output>;
  private readonly pending = new Map<string, Pending>();
  private nextId = 1;
  private closed = false;
  /** Calls of this turn not sent yet, and their approximate encoded size. */
  private outbox: ForwardedCall[] = [];
  private outboxBytes = 0;

  constructor(
    private readonly client: grpc.Client,
    private readonly nodeName: string,
    private readonly address: string,
    private readonly log?: Logger,
  ) {}

  send({ method, request, metadata, deadlineMs, ourCap }: OutgoingCall): Promise<ForwardResult> {
    if (this.closed) return Promise.reject(shuttingDown());
    const message: ForwardedCall = {
      id: String(this.nextId++),
      method: method.path,
      request: method.requestSerialize(request),
      metadata: headersOf(metadata),
      deadline_ms: String(deadlineMs),
    };
    // An upper bound of its encoded size: fields, their tags and lengths.
    const size = 48 + method.path.length + (message.request as Buffer).length + message.metadata!.reduce((n, h) => n + h.key!.length + h.value!.length + 8, 0);
    if (size > MaxForwardedMessageBytes) {
      return Promise.reject(new AppError(Status.RESOURCE_EXHAUSTED, 'the request is too large to forward to the primary'));
    }
    const id = message.id as string;
    return new Promise<ForwardResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(
          ourCap
            ? primaryUnreachable()
            : new AppError(Status.DEADLINE_EXCEEDED, 'deadline exceeded while the primary handled the write'),
        );
      }, Math.max(0, deadlineMs - Date.now()));
      this.pending.set(id, { method, resolve, reject, timer });
      this.enqueue(message, size);
    });
  }

  /** Sends the turn's calls together at the end of the turn (sooner if they would not fit one message). */
  private enqueue(message: ForwardedCall, size: number): void {
    if (this.outboxBytes + size > MaxForwardedMessageBytes) this.flush();
    if (this.outbox.length === 0) setImmediate(() => this.flush());
    this.outbox.push(message);
    this.outboxBytes += size;
  }

  private flush(): void {
    if (this.outbox.length === 0) return;
    const calls = this.outbox;
    this.outbox = [];
    this.outboxBytes = 0;
    if (this.closed) return; // close() has already failed their callers
    this.open().write({ calls });
  }

  close(): void {
    this.closed = true;
    this.call?.cancel();
    this.failAll(shuttingDown());
  }

  private open(): grpc.ClientDuplexStream<ForwardedCalls, ForwardedAnswers__Output> {
    if (this.call) return this.call;
    const md = new grpc.Metadata();
    md.set(FORWARDED_HEADER, this.nodeName);
    const call = this.client.makeBidiStreamRequest(ForwardMethod.path, ForwardMethod.requestSerialize, ForwardMethod.responseDeserialize, md);
    let answered = false; // so it did connect
    call.on('data', (message: ForwardedAnswers__Output) => {
      answered = true;
      for (const answer of message.answers) this.answer(answer);
    });
    // 'status' comes exactly once, however the stream ends; 'error' needs a listener too.
    call.on('error', () => undefined);
    call.on('status', (status: grpc.StatusObject) => {
      if (this.call === call) this.call = undefined;
      // One line per stream that ends: how, and how many writes it left without an answer.
      const line = { primary: this.address, code: Status[status.code], details: status.details, unanswered: this.pending.size };
      if (this.closed) this.log?.info(line, 'forwarding stream closed');
      else this.log?.warn(line, 'forwarding stream to the primary ended; the next write opens a new one');
      const lost =
        status.code === Status.UNAVAILABLE && CONNECTION_FAILURE.test(status.details) && !answered
          ? primaryUnreachable()
          : unavailable('the connection to the primary ended before it answered: retry (the write may have committed)');
      this.failAll(lost);
    });
    this.call = call;
    this.log?.info({ primary: this.address }, 'forwarding stream opened');
    return call;
  }

  private answer(answer: ForwardedAnswer__Output): void {
    const waiting = this.pending.get(answer.id);
    if (!waiting) return; // its caller has already given up
    this.pending.delete(answer.id);
    clearTimeout(waiting.timer);
    if (answer.code !== Status.OK) {
      // A refusal's one header: when to try again (the primary's login throttle).
      const retryAfter = Number(answer.headers.find((h) => h.key === RETRY_AFTER_HEADER)?.value);
      return waiting.reject(new AppError(answer.code, answer.details, Number.isInteger(retryAfter) && retryAfter > 0 ? { retryAfterSeconds: retryAfter } : undefined));
    }
    let response: unknown;
    try {
      response = waiting.method.responseDeserialize(answer.response);
    } catch (err) {
      return waiting.reject(new AppError(Status.INTERNAL, 'the primary sent an answer that could not be parsed', { cause: err }));
    }
    let headers: grpc.Metadata;
    try {
      headers = metadataOf(answer.headers);
    } catch {
      return waiting.reject(new AppError(Status.INTERNAL, 'the primary sent headers that could not be read'));
    }
    waiting.resolve({ response, txid: answer.txid === '0' ? undefined : parseTxid(answer.txid), headers });
  }

  private failAll(err: AppError): void {
    for (const waiting of this.pending.values()) {
      clearTimeout(waiting.timer);
      waiting.reject(err);
    }
    this.pending.clear();
  }
}

/** A metadata entry as the forwarding stream carries it (`Header` with both fields). */
type HeaderPair = Required<Header>;

/** Text metadata as header pairs, every value of every key (binary keys are not forwarded). */
export function headersOf(md: grpc.Metadata): HeaderPair[] {
  const out: HeaderPair[] = [];
  for (const [key, values] of Object.entries(md.toJSON())) {
    if (key.endsWith('-bin')) continue;
    for (const value of values) out.push({ key, value: String(value) });
  }
  return out;
}

/** Header pairs as metadata; throws when a key or value is not valid metadata. */
export function metadataOf(headers: HeaderPair[]): grpc.Metadata {
  const md = new grpc.Metadata();
  for (const { key, value } of headers) md.add(key, value);
  return md;
}

/** The primary could not be reached, or did not answer before our own cap (retryable). */
function primaryUnreachable(cause?: unknown): AppError {
  return unavailable('the primary is unreachable: writes are unavailable until it returns; reads still work', cause);
}

/** This replica is stopping: its forwarding stream takes no more writes (retryable). */
function shuttingDown(): AppError {
  return unavailable('this node is shutting down: retry');
}

/** How grpc-js describes a connection that could not be made or was lost. */
const CONNECTION_FAILURE = /No connection established|ECONNREFUSED|ECONNRESET|Connection dropped|connect/i;

/**
 * The primary's status is relayed as is, except that "could not reach it"
 * (refused, dropped, or silent until our own cap) becomes one clear,
 * retryable UNAVAILABLE.
 */
function relayError(err: grpc.ServiceError, ourCapWasTheDeadline: boolean): AppError {
  const unreachable =
    (err.code === Status.UNAVAILABLE && CONNECTION_FAILURE.test(err.details)) ||
    (err.code === Status.DEADLINE_EXCEEDED && ourCapWasTheDeadline);
  if (unreachable) {
    return primaryUnreachable(err);
  }
  return new AppError(err.code, err.details, { cause: err });
}

export function parseTxid(value: string): bigint | undefined {
  if (!/^[0-9]{1,20}$/.test(value)) return undefined;
  return BigInt(value);
}

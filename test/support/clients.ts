/**
 * Clients the end-to-end tests use: plain HTTP/JSON (what curl users do) and
 * native gRPC (what grpc-js users do), both through Envoy or straight to a
 * node's port.
 */
import * as grpc from '@grpc/grpc-js';
import { request } from 'node:http';
import { loadProto, serviceClient } from '../../lib/grpc/proto.js';

export const ENVOY_HTTP = 'http://127.0.0.1:8080';
export const ENVOY_GRPC = '127.0.0.1:8080';

export interface HttpAnswer<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

/** The auth service's REST paths (proto/auth/v1/auth.proto); every other path is the enrollment service's. */
const AUTH_PATH = /^\/(?:(?:register|login|auth|auth-logs|token|logout|me)(?:[/?]|$)|\.well-known\/|users\/\d+\/(?:roles|password)$)/;

/**
 * The newest TXID each database answered a write of this test process with.
 * A GET sends it as x-min-txid, as the README tells clients to, so a test
 * reads its own writes whichever replica Envoy picks (README, "Consistency").
 */
const newestWrite = { auth: 0n, enroll: 0n };

/**
 * `attempt` again while Envoy's rate limit of the token endpoints refuses it
 * (`refused`: its answer carries x-ratelimit), as a client would, for at most
 * 10 s. Every test of a run shares one client address, and so one bucket (10
 * a second per endpoint); a test about the rate limit itself opts out
 * (`rateLimitRetry: false`).
 */
async function outwaitingRateLimit<A>(attempt: () => Promise<A>, refused: (answer: A) => boolean): Promise<A> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const answer = await attempt();
    if (!refused(answer) || Date.now() > deadline) return answer;
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
}

type HttpOptions = { body?: unknown; token?: string; headers?: Record<string, string>; base?: string; rateLimitRetry?: boolean };

/**
 * One HTTP request; `body` is JSON-encoded unless it is already a string. A
 * GET waits for this process's writes to the same service (x-min-txid),
 * unless `headers` names an x-min-txid of its own. A 429 from Envoy's rate
 * limit is waited out (`outwaitingRateLimit`) unless `rateLimitRetry` is false.
 */
export function http<T = any>(method: string, path: string, opts: HttpOptions = {}): Promise<HttpAnswer<T>> {
  if (opts.rateLimitRetry === false) return httpOnce<T>(method, path, opts);
  return outwaitingRateLimit(
    () => httpOnce<T>(method, path, opts),
    (res) => res.status === 429 && res.headers.get('x-ratelimit') !== null,
  );
}

async function httpOnce<T>(method: string, path: string, opts: HttpOptions): Promise<HttpAnswer<T>> {
  const headers = readingOwnWrites(method, path, { ...opts.headers });
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  const service = AUTH_PATH.test(path) ? 'auth' : 'enroll';
  let body: string | undefined;
  if (opts.body !== undefined) {
    body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(`${opts.base ?? ENVOY_HTTP}${path}`, { method, headers, body, signal: AbortSignal.timeout(30_000) });
  const txid = res.headers.get('x-txid');
  if (method !== 'GET' && txid && /^\d+$/.test(txid) && BigInt(txid) > newestWrite[service]) newestWrite[service] = BigInt(txid);
  const text = await res.text();
  let parsed: unknown = undefined;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: res.status, headers: res.headers, body: parsed as T, text };
}

/** `headers` with, for a GET, this process's newest write to the path's service as x-min-txid (unless they name their own). */
function readingOwnWrites(method: string, path: string, headers: Record<string, string>): Record<string, string> {
  const service = AUTH_PATH.test(path) ? 'auth' : 'enroll';
  const ownMinTxid = Object.keys(headers).some((k) => k.toLowerCase() === 'x-min-txid');
  if (method === 'GET' && !ownMinTxid && newestWrite[service] > 0n) headers['x-min-txid'] = newestWrite[service].toString();
  return headers;
}

/**
 * One HTTP/1.1 request through node:http to Envoy, for what fetch will not do:
 * send a GET with a body, or send from another loopback address
 * (`localAddress`, 127.0.0.2 and up: another client to Envoy). The body goes
 * with a content-length; a GET waits for this process's writes as in `http`.
 */
export function httpRaw(
  method: string,
  path: string,
  body: string,
  opts: { headers?: Record<string, string>; base?: string; localAddress?: string } = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> {
  const sent = readingOwnWrites(method, path, { 'content-type': 'application/json', ...opts.headers, 'content-length': String(Buffer.byteLength(body)) });
  const url = `${opts.base ?? ENVOY_HTTP}${path}`;
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers: sent, timeout: 30_000, localAddress: opts.localAddress }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: no answer within 30 s`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** A body sent in pieces: fetch sends it chunked over HTTP/1.1, without a content-length. */
export function streamOf(...pieces: string[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      for (const piece of pieces) controller.enqueue(new TextEncoder().encode(piece));
      controller.close();
    },
  });
}

const protos = new Map<string, grpc.GrpcObject>();
function proto(file: string): grpc.GrpcObject {
  let obj = protos.get(file);
  if (!obj) protos.set(file, (obj = loadProto(file).grpcObject));
  return obj;
}

export type UnaryClient = grpc.Client & Record<string, any>;

export function authClient(address = ENVOY_GRPC): UnaryClient {
  return new (serviceClient(proto('auth/v1/auth.proto'), 'auth.v1.AuthService'))(address, grpc.credentials.createInsecure()) as UnaryClient;
}

export function directoryClient(address: string): UnaryClient {
  return new (serviceClient(proto('auth/v1/auth.proto'), 'auth.v1.UserDirectory'))(address, grpc.credentials.createInsecure()) as UnaryClient;
}

export function enrollClient(address = ENVOY_GRPC): UnaryClient {
  return new (serviceClient(proto('enroll/v1/enroll.proto'), 'enroll.v1.EnrollService'))(address, grpc.credentials.createInsecure()) as UnaryClient;
}

export interface GrpcAnswer<T = any> {
  response?: T;
  error?: grpc.ServiceError;
  headers: grpc.Metadata;
}

/** Calls a unary method and never throws: the answer holds the response or the error, and the response headers. */
type CallOptions = { token?: string; metadata?: Record<string, string>; timeoutMs?: number; rateLimitRetry?: boolean };

/** One unary gRPC call; RESOURCE_EXHAUSTED from Envoy's rate limit is waited out as in `http`. */
export function call<T = any>(client: UnaryClient, method: string, request: unknown, opts: CallOptions = {}): Promise<GrpcAnswer<T>> {
  if (opts.rateLimitRetry === false) return callOnce<T>(client, method, request, opts);
  return outwaitingRateLimit(
    () => callOnce<T>(client, method, request, opts),
    (a) => a.error?.code === grpc.status.RESOURCE_EXHAUSTED && a.error.metadata.get('x-ratelimit').length > 0,
  );
}

function callOnce<T>(client: UnaryClient, method: string, request: unknown, opts: CallOptions): Promise<GrpcAnswer<T>> {
  const md = new grpc.Metadata();
  if (opts.token) md.set('authorization', `Bearer ${opts.token}`);
  for (const [k, v] of Object.entries(opts.metadata ?? {})) md.set(k, v);
  return new Promise((resolve) => {
    let headers = new grpc.Metadata();
    const c = client[method](request, md, { deadline: Date.now() + (opts.timeoutMs ?? 30_000) }, (error: grpc.ServiceError | null, response: T) => {
      resolve(error ? { error, headers } : { response, headers });
    });
    c.on('metadata', (m: grpc.Metadata) => {
      headers = m;
    });
  });
}

export function txidOf(headers: grpc.Metadata | Headers): string | undefined {
  const v = headers instanceof Headers ? headers.get('x-txid') : headers.get('x-txid')[0];
  return v === null || v === undefined ? undefined : String(v);
}

let counter = 0;
/** A username nobody has used in this run. */
export function uniqueName(prefix = 'user'): string {
  counter += 1;
  return `${prefix}${process.pid}x${Date.now().toString(36)}x${counter}`;
}

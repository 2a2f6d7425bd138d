/**
 * The ways a client reaches the product, behind one interface: native gRPC
 * (straight to a node's port, or through Envoy) and HTTP/JSON through Envoy.
 * An operation resolves with its outcome ("ok", or a rule the product refused
 * it by, e.g. a full section), and rejects only on a real error.
 */
import { enrollClient, type UnaryClient } from '../../test/support/clients.js';
import type { Person } from '../../test/support/school.js';
import { HttpJson, RpcError, unary } from './rpc.js';

export interface Outcome {
  /** "enrolled" | "waitlisted" | "ok" | a refusal code such as "FAILED_PRECONDITION". */
  result: string;
  /** The TXID a write committed at (x-txid), when the answer carries one. */
  txid?: bigint;
}

export interface Via {
  readonly name: string;
  enroll(s: Person, sectionId: number): Promise<Outcome>;
  drop(s: Person, sectionId: number): Promise<Outcome>;
  /** The catalogue: one page of sections, in the basic view unless asked for the full one. */
  catalogue(token: string, pageSize?: number, view?: 'basic' | 'full'): Promise<Outcome>;
  enrollments(s: Person): Promise<Outcome>;
  waitlist(s: Person): Promise<Outcome>;
  close(): void;
}

/** Refusals the product answers by its rules: a valid outcome of a rush, not an error. */
const RULE_CODES = new Set(['FAILED_PRECONDITION', 'ALREADY_EXISTS', 'NOT_FOUND']);
const HTTP_RULE: Record<number, string> = { 400: 'FAILED_PRECONDITION', 409: 'ALREADY_EXISTS', 404: 'NOT_FOUND' };

function txidFrom(v: unknown): bigint | undefined {
  return v === undefined || v === null || v === '' ? undefined : BigInt(String(v));
}

async function ruled(p: Promise<Outcome>): Promise<Outcome> {
  try {
    return await p;
  } catch (err) {
    if (err instanceof RpcError && RULE_CODES.has(err.code)) return { result: err.code };
    throw err;
  }
}

/** Metadata for every call, or a function giving each call its own (e.g. a new idempotency key). */
export type ViaMetadata = Record<string, string> | (() => Record<string, string>);

export function grpcVia(name: string, address: string, metadata?: ViaMetadata): Via {
  const client: UnaryClient = enrollClient(address);
  const opts = (token: string) => ({ token, metadata: typeof metadata === 'function' ? metadata() : metadata });
  return {
    name,
    enroll: (s, sid) =>
      ruled(unary(client, 'CreateEnrollment', { user_id: s.id, section_id: sid }, opts(s.token)).then((a) => ({
        result: a.response.status as string,
        txid: txidFrom(a.headers.get('x-txid')[0]),
      }))),
    drop: (s, sid) =>
      ruled(unary(client, 'DropUserEnrollment', { user_id: s.id, section_id: sid }, opts(s.token)).then((a) => ({
        result: 'ok',
        txid: txidFrom(a.headers.get('x-txid')[0]),
      }))),
    catalogue: (token, pageSize = 50, view = 'basic') =>
      unary(client, 'ListSections', { page_size: pageSize, view }, opts(token)).then(() => ({ result: 'ok' })),
    enrollments: (s) => unary(client, 'ListUserEnrollments', { user_id: s.id }, opts(s.token)).then(() => ({ result: 'ok' })),
    waitlist: (s) => unary(client, 'ListUserWaitlist', { user_id: s.id }, opts(s.token)).then(() => ({ result: 'ok' })),
    close: () => client.close(),
  };
}

export function httpVia(name: string, base = 'http://127.0.0.1:8080'): Via {
  const http = new HttpJson(base);
  const refusal = (err: unknown): Outcome => {
    if (err instanceof RpcError) {
      const status = Number(err.code.replace('HTTP_', ''));
      if (HTTP_RULE[status]) return { result: HTTP_RULE[status]! };
    }
    throw err;
  };
  const txid = (h: Record<string, string | string[] | undefined>) => txidFrom(h['x-txid']);
  return {
    name,
    enroll: (s, sid) =>
      http.send('POST', `/users/${s.id}/enrollments`, { token: s.token, body: { section_id: sid } })
        .then((a) => ({ result: a.body.status as string, txid: txid(a.headers) }), refusal),
    drop: (s, sid) =>
      http.send('DELETE', `/users/${s.id}/enrollments/${sid}`, { token: s.token })
        .then((a) => ({ result: 'ok', txid: txid(a.headers) }), refusal),
    catalogue: (token, pageSize = 50, view = 'basic') =>
      http.send('GET', `/sections?page_size=${pageSize}&view=${view}`, { token }).then(() => ({ result: 'ok' })),
    enrollments: (s) => http.send('GET', `/users/${s.id}/enrollments`, { token: s.token }).then(() => ({ result: 'ok' })),
    waitlist: (s) => http.send('GET', `/users/${s.id}/waitlist`, { token: s.token }).then(() => ({ result: 'ok' })),
    close: () => http.close(),
  };
}

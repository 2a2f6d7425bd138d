/**
 * Lean request helpers for load: gRPC unary calls that reject on error and
 * HTTP/JSON over a keep-alive node:http agent (cheaper per request than fetch,
 * so the generator steals less CPU from the system under test).
 */
import * as grpc from '@grpc/grpc-js';
import { Agent, request } from 'node:http';
import { call, type UnaryClient } from '../../test/support/clients.js';

export class RpcError extends Error {
  constructor(message: string, readonly code: string) {
    super(message);
  }
}

export interface UnaryAnswer<T> {
  response: T;
  headers: grpc.Metadata;
}

/** Calls a unary method; rejects with RpcError (code = gRPC status name) on error. */
export async function unary<T = any>(
  client: UnaryClient,
  method: string,
  req: unknown,
  opts: { token?: string; metadata?: Record<string, string>; timeoutMs?: number } = {},
): Promise<UnaryAnswer<T>> {
  const answer = await call<T>(client, method, req, opts);
  if (answer.error) {
    const code = grpc.status[answer.error.code] ?? String(answer.error.code);
    throw new RpcError(`${method}: ${code} ${answer.error.details}`, code);
  }
  return { response: answer.response as T, headers: answer.headers };
}

export interface HttpAnswer<T> {
  status: number;
  body: T;
  headers: Record<string, string | string[] | undefined>;
}

/** A keep-alive HTTP/1.1 client for one base URL (Envoy's listener). */
export class HttpJson {
  private readonly agent: Agent;
  private readonly host: string;
  private readonly port: number;

  constructor(base = 'http://127.0.0.1:8080', maxSockets = 256) {
    const url = new URL(base);
    this.host = url.hostname;
    this.port = Number(url.port || 80);
    this.agent = new Agent({ keepAlive: true, maxSockets });
  }

  /** One request; rejects with RpcError (code HTTP_<status>) unless the status is 2xx or listed in `ok`. */
  send<T = any>(method: string, path: string, opts: { token?: string; body?: unknown; ok?: number[] } = {}): Promise<HttpAnswer<T>> {
    const payload = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body));
    const headers: Record<string, string | number> = {};
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = payload.length;
    }
    return new Promise((resolve, reject) => {
      const req = request({ host: this.host, port: this.port, method, path, headers, agent: this.agent, timeout: 30_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          let body: any;
          try {
            body = text ? JSON.parse(text) : undefined;
          } catch {
            body = text;
          }
          if ((status >= 200 && status < 300) || opts.ok?.includes(status)) resolve({ status, body, headers: res.headers });
          else reject(new RpcError(`${method} ${path}: HTTP ${status} ${text.slice(0, 120)}`, `HTTP_${status}`));
        });
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timed out`)));
      req.on('error', reject);
      if (payload) req.write(payload);
      req.end();
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

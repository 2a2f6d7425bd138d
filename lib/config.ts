/**
 * Reading the environment, in one place. Every tunable has a named default
 * here or in the module that owns it; nothing else reads process.env.
 */

import type { ForwardMode } from './grpc/forward.js';
import { DefaultStaleMs as DefaultReadMemoStaleMs } from './read-memo.js';
import { DefaultBatchDelayMs, DefaultMaxBatch } from './writer.js';

/**
 * How long a replica may go without hearing from its primary (LiteFS's lag:
 * a transaction or a heartbeat, which comes every second when nothing is
 * written) before it stops offering reads to Envoy.
 */
export const DefaultReplicaMaxLagMs = 5_000;

/** A required variable, or its fallback. Throws a clear error when neither exists. */
export function env(name: string, fallback?: string): string {
  const value = process.env[name];
  if (value !== undefined && value !== '') return value;
  if (fallback !== undefined) return fallback;
  throw new Error(`environment variable ${name} is required`);
}

/** An optional variable: undefined when unset or empty. */
export function optionalEnv(name: string): string | undefined {
  const value = process.env[name];
  return value === undefined || value === '' ? undefined : value;
}

/**
 * Parses `node1=127.0.0.1:7101,node2=127.0.0.1:7102` into a map from LiteFS
 * hostname to gRPC address.
 */
export function parsePeers(value: string): Map<string, string> {
  const peers = new Map<string, string>();
  for (const part of value.split(',')) {
    const trimmed = part.trim();
    if (trimmed === '') continue;
    const eq = trimmed.indexOf('=');
    if (eq <= 0 || eq === trimmed.length - 1) throw new Error(`bad peer entry ${JSON.stringify(trimmed)}: expected name=host:port`);
    peers.set(trimmed.slice(0, eq), trimmed.slice(eq + 1));
  }
  return peers;
}

export type WriteMode = 'batch' | 'single';
/** How a replica's reads use SQLite transactions: see lib/shared-reads.ts. */
export type ReadMode = 'shared' | 'per-statement';

/** What every service process on a node needs to know about the node. */
export interface NodeConfig {
  /** LiteFS hostname of this node (node1 .. node3). */
  nodeName: string;
  /** The node's LiteFS FUSE mount. */
  mountDir: string;
  /** The node's LiteFS HTTP API, e.g. http://127.0.0.1:20201. */
  litefsApi: string;
  /** How the primary commits writes: group commit (batch) or one transaction each. */
  writeMode: WriteMode;
  /** Whether a replica's reads of one event-loop turn share a snapshot (shared) or not. */
  readMode: ReadMode;
  /** The most write requests one group commit takes (WRITE_MAX_BATCH). */
  maxBatch: number;
  /** While the primary is busy, how long a group commit may wait for more requests (WRITE_BATCH_DELAY_MS; see lib/writer.ts). */
  batchDelayMs: number;
  /** How a replica carries writes to the primary: one stream for all (stream) or a unary call each. */
  forwardMode: ForwardMode;
  /** Whether the primary's writes run on a writer thread (WRITER_THREAD=on) or on the event loop (off). */
  writerThread: boolean;
  /** Whether catalogue answers are reused until the data changes (READ_MEMO=on), see lib/read-memo.ts. */
  readMemo: boolean;
  /** How old a catalogue answer may be and still be given while a newer one is computed (READ_MEMO_STALE_MS), see lib/read-memo.ts. */
  readMemoStaleMs: number;
  /** Whether the other reads run on a reader thread (READ_THREAD=on) or on the event loop (off), see lib/reader.ts. */
  readThread: boolean;
  /** REPLICA_MAX_LAG_MS: past this lag a replica stops reporting `role.replica` to health checks (0: never). */
  replicaMaxLagMs: number;
}

/** A switch spelled on or off. */
function onOff(name: string, fallback: 'on' | 'off'): boolean {
  const value = env(name, fallback);
  if (value !== 'on' && value !== 'off') throw new Error(`${name} must be on or off, got ${value}`);
  return value === 'on';
}

/** A whole number of milliseconds between 0 and `max`, or `fallback` when unset. */
export function millis(name: string, fallback: number, max: number): number {
  const value = Number(env(name, String(fallback)));
  if (!Number.isInteger(value) || value < 0 || value > max) throw new Error(`${name} must be a whole number of milliseconds from 0 to ${max}, got ${env(name)}`);
  return value;
}

/** A whole number of seconds from 1 to `max`, or `fallback` when unset. */
export function seconds(name: string, fallback: number, max: number): number {
  const value = Number(env(name, String(fallback)));
  if (!Number.isInteger(value) || value < 1 || value > max) throw new Error(`${name} must be a whole number of seconds from 1 to ${max}, got ${env(name)}`);
  return value;
}

/** A whole number from 0 to `max`, or `fallback` when unset. */
export function wholeNumber(name: string, fallback: number, max: number): number {
  const value = Number(env(name, String(fallback)));
  if (!Number.isInteger(value) || value < 0 || value > max) throw new Error(`${name} must be a whole number from 0 to ${max}, got ${env(name)}`);
  return value;
}

/** The longest duration in seconds any setting takes: a year. */
export const MaxDurationS = 366 * 24 * 3600;

/** Envoy's JWKS cache_duration by default (deploy/envoy/envoy.yaml). */
export const DefaultJwksCacheS = 300;

/**
 * How long the JWKS may be kept (JWKS_CACHE_S): scripts/envoy.sh writes it into
 * Envoy's cache_duration, the enrollment service keeps its copy no longer, and the
 * auth service publishes each key at least that long before it signs.
 */
export function jwksCacheSeconds(): number {
  return seconds('JWKS_CACHE_S', DefaultJwksCacheS, MaxDurationS);
}

export function loadNodeConfig(): NodeConfig {
  const writeMode = env('WRITE_MODE', 'batch');
  if (writeMode !== 'batch' && writeMode !== 'single') throw new Error(`WRITE_MODE must be batch or single, got ${writeMode}`);
  const readMode = env('READ_MODE', 'shared');
  if (readMode !== 'shared' && readMode !== 'per-statement') throw new Error(`READ_MODE must be shared or per-statement, got ${readMode}`);
  const maxBatch = Number(env('WRITE_MAX_BATCH', String(DefaultMaxBatch)));
  if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new Error(`WRITE_MAX_BATCH must be a positive integer, got ${env('WRITE_MAX_BATCH')}`);
  const batchDelayMs = millis('WRITE_BATCH_DELAY_MS', DefaultBatchDelayMs, 50);
  const forwardMode = env('FORWARD_MODE', 'stream');
  if (forwardMode !== 'stream' && forwardMode !== 'unary') throw new Error(`FORWARD_MODE must be stream or unary, got ${forwardMode}`);
  return {
    nodeName: env('NODE_NAME'),
    mountDir: env('LITEFS_MOUNT'),
    litefsApi: env('LITEFS_API'),
    writeMode,
    readMode,
    maxBatch,
    batchDelayMs,
    forwardMode,
    writerThread: onOff('WRITER_THREAD', 'on'),
    readMemo: onOff('READ_MEMO', 'on'),
    readMemoStaleMs: millis('READ_MEMO_STALE_MS', DefaultReadMemoStaleMs, 1_000),
    readThread: onOff('READ_THREAD', 'on'),
    replicaMaxLagMs: millis('REPLICA_MAX_LAG_MS', DefaultReplicaMaxLagMs, 3_600_000),
  };
}

/**
 * Keyset pagination, for the listings of both services. A page token is
 * base64url(JSON [kind, ...key]) of the last row returned; the kind ties a
 * token to the listing that issued it.
 */
import { invalidArgument } from './errors.js';

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 500;

export interface PageRequest {
  page_size?: number | null;
  page_token?: string | null;
}

/** A decoded request, for one listing (`kind`). */
export interface PageCursor {
  kind: string;
  /** The key of the previous page's last row; zeros on the first page (ids and positions start at 1). */
  after: number[];
  /** `after[0]`: what a listing keyed by one id continues after. */
  afterId: number;
  size: number;
  /** Rows to ask the store for: one more than the page, to tell whether another page follows. */
  limit: number;
}

export function pageSize(value: number | undefined | null): number {
  if (value === undefined || value === null || value === 0) return DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(value) || value < 0) throw invalidArgument('page_size', 'must not be negative');
  // The proto says "at most 500": larger asks are served as 500, not refused.
  return Math.min(value, MAX_PAGE_SIZE);
}

export function encodeToken(kind: string, key: number[]): string {
  return Buffer.from(JSON.stringify([kind, ...key])).toString('base64url');
}

export function decodeToken(kind: string, keyLength: number, token: string): number[] {
  const bad = () => invalidArgument('page_token', 'malformed page token');
  if (!/^[A-Za-z0-9_-]+$/.test(token)) throw bad();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw bad();
  }
  if (!Array.isArray(parsed) || parsed.length !== keyLength + 1 || parsed[0] !== kind) throw bad();
  const key = parsed.slice(1);
  if (!key.every((n) => Number.isSafeInteger(n) && n >= 0)) throw bad();
  return key as number[];
}

export function readPage(kind: string, keyLength: number, req: PageRequest): PageCursor {
  const size = pageSize(req.page_size);
  const token = req.page_token ?? '';
  const after = token === '' ? new Array<number>(keyLength).fill(0) : decodeToken(kind, keyLength, token);
  return { kind, after, afterId: after[0]!, size, limit: size + 1 };
}

/**
 * Given up to `cursor.limit` rows, returns the page and the token for the next
 * one ('' when this is the last).
 */
export function toPage<R>(cursor: PageCursor, rows: R[], keyOf: (row: R) => number[]) {
  if (rows.length <= cursor.size) return { rows, next_page_token: '' };
  const page = rows.slice(0, cursor.size);
  return { rows: page, next_page_token: encodeToken(cursor.kind, keyOf(page[page.length - 1]!)) };
}

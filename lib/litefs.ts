/**
 * What a service needs to know from LiteFS about its node: whether it is the
 * primary, which node is, and how far each database has replicated (its
 * TXID), plus a way to wait until a TXID has arrived.
 *
 * Facts this relies on (LiteFS v0.5.14):
 * - `GET /info` on the LiteFS API answers {"isPrimary": bool, "primary": {"hostname": …}}.
 * - `<mount>/<db>-pos` holds `%016x/%016x\n` (TXID/checksum); on the primary it
 *   is updated before COMMIT returns, so reading it right after a commit names
 *   that commit.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { unavailable } from './errors.js';

/** How long a cached /info answer is trusted. The lease is static, so rarely changes. */
export const DefaultInfoTtlMs = 1000;
/** How often waiters re-read the position file while waiting. */
export const DefaultPollIntervalMs = 2;

interface Info {
  isPrimary: boolean;
  primaryHostname?: string;
}

interface Waiter {
  txid: bigint;
  resolve: (reached: boolean) => void;
  timer: NodeJS.Timeout;
}

export class LiteFsNode {
  private info?: { value: Info; at: number };
  private readonly waiters = new Map<string, Set<Waiter>>();
  private readonly pollers = new Map<string, NodeJS.Timeout>();

  constructor(
    readonly mountDir: string,
    readonly apiUrl: string,
    private readonly infoTtlMs = DefaultInfoTtlMs,
  ) {}

  /** The node's role and the primary's hostname, from the LiteFS API (cached briefly). */
  async describe(): Promise<Info> {
    const now = Date.now();
    if (this.info && now - this.info.at < this.infoTtlMs) return this.info.value;
    let body: { isPrimary?: unknown; primary?: { hostname?: unknown } };
    try {
      const res = await fetch(`${this.apiUrl}/info`, { signal: AbortSignal.timeout(1000) });
      if (!res.ok) throw new Error(`LiteFS /info answered ${res.status}`);
      body = (await res.json()) as typeof body;
    } catch (err) {
      throw unavailable('this node cannot reach its LiteFS API', err);
    }
    const value: Info = {
      isPrimary: body.isPrimary === true,
      primaryHostname: typeof body.primary?.hostname === 'string' ? body.primary.hostname : undefined,
    };
    this.info = { value, at: now };
    return value;
  }

  async isPrimary(): Promise<boolean> {
    return (await this.describe()).isPrimary;
  }

  /** The TXID this node has of `dbName` (0 when the database does not exist yet). */
  position(dbName: string): bigint {
    let text: string;
    try {
      text = readFileSync(join(this.mountDir, `${dbName}-pos`), 'utf8');
    } catch {
      return 0n;
    }
    const slash = text.indexOf('/');
    if (slash <= 0) return 0n;
    return BigInt(`0x${text.slice(0, slash)}`);
  }

  /**
   * Resolves true once this node's `dbName` has reached `txid`, false after
   * `timeoutMs`. One poll loop per database serves every waiter.
   */
  waitForTxid(dbName: string, txid: bigint, timeoutMs: number): Promise<boolean> {
    if (this.position(dbName) >= txid) return Promise.resolve(true);
    return new Promise((resolve) => {
      let set = this.waiters.get(dbName);
      if (!set) this.waiters.set(dbName, (set = new Set()));
      const waiter: Waiter = {
        txid,
        resolve,
        timer: setTimeout(() => {
          set.delete(waiter);
          resolve(false);
        }, timeoutMs),
      };
      set.add(waiter);
      this.ensurePolling(dbName);
    });
  }

  private ensurePolling(dbName: string): void {
    if (this.pollers.has(dbName)) return;
    const tick = () => {
      const set = this.waiters.get(dbName);
      if (!set || set.size === 0) {
        this.pollers.delete(dbName);
        return;
      }
      const pos = this.position(dbName);
      for (const w of set) {
        if (pos >= w.txid) {
          clearTimeout(w.timer);
          set.delete(w);
          w.resolve(true);
        }
      }
      this.pollers.set(dbName, setTimeout(tick, DefaultPollIntervalMs));
    };
    this.pollers.set(dbName, setTimeout(tick, DefaultPollIntervalMs));
  }
}

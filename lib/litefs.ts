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
 * - `GET /events` streams newline-delimited JSON: first `{"type":"init",…}`, then
 *   `{"type":"tx","db":"enroll.db","data":{"txID":
 *   "<16 hex digits>","timestamp":"<RFC 3339, ms>", …}}` for each transaction,
 *   where the timestamp is the LTX file's, taken on the primary as its COMMIT
 *   began writing that file (db.go, CommitWAL). The tx event is sent after the
 *   transaction is applied
 *   and visible (db.go: setPos and updateSHM come before NotifyEvent), so an
 *   event's TXID is a lower bound of the position. Waiters are woken by those
 *   events and compare against the event's TXID: reading `-pos` is a FUSE round
 *   trip, and under load it was a tenth of a replica's CPU. A slow poll of the
 *   file stays as a safety net for a dropped stream.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { get as httpGet } from 'node:http';
import { join } from 'node:path';
import { unavailable } from './errors.js';

/** How long a cached /info answer is trusted. The lease is static, so rarely changes. */
export const DefaultInfoTtlMs = 1000;
/** How often waiters re-read the position file when no event has woken them. */
export const DefaultPollIntervalMs = 25;
/** Pause before reconnecting to the LiteFS event stream. */
export const EventReconnectMs = 250;

/**
 * A database's `<db>-pos` file, read with pread on a descriptor kept open: one
 * FUSE round trip instead of lookup, open, read, flush and release for every
 * read (the primary reads it after each commit). It is never stale: LiteFS
 * drops the file from the kernel's page cache whenever the position moves
 * (DB.setPos, before the COMMIT returns).
 */
export class PositionFile {
  private fd: number | undefined;
  private readonly buf = Buffer.alloc(64);

  constructor(private readonly path: string) {}

  /** The TXID in the file; 0 when the database (or LiteFS) is not there yet. */
  read(): bigint {
    let text: string;
    try {
      if (this.fd === undefined) this.fd = openSync(this.path, 'r');
      const n = readSync(this.fd, this.buf, 0, this.buf.length, 0);
      text = this.buf.toString('latin1', 0, n);
    } catch {
      this.close(); // not there yet, or the descriptor went bad: reopen next time
      return 0n;
    }
    const slash = text.indexOf('/');
    return slash <= 0 ? 0n : BigInt(`0x${text.slice(0, slash)}`);
  }

  close(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    try {
      closeSync(fd);
    } catch {
      // already unusable: nothing to release
    }
  }
}

export interface Info {
  isPrimary: boolean;
  /** Undefined while this node knows no primary (LiteFS reports the hostname ""). */
  primaryHostname?: string;
}

/** LiteFS's `GET /info` at `apiUrl`; throws when it does not answer 200 within `timeoutMs`. */
export async function fetchInfo(apiUrl: string, timeoutMs = 1000): Promise<Info> {
  const res = await fetch(`${apiUrl}/info`, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`LiteFS /info answered ${res.status}`);
  const body = (await res.json()) as { isPrimary?: unknown; primary?: { hostname?: unknown } };
  const hostname = body.primary?.hostname;
  return { isPrimary: body.isPrimary === true, primaryHostname: typeof hostname === 'string' && hostname !== '' ? hostname : undefined };
}

interface Waiter {
  txid: bigint;
  resolve: (reached: boolean) => void;
  timer: NodeJS.Timeout;
}

/** A transaction LiteFS announced on this node's event stream. */
export interface AppliedCommit {
  db: string;
  txid: bigint;
  /** LiteFS's timestamp of it: the primary's COMMIT began writing its LTX file (ms since the epoch, the primary's clock). */
  committedAt: number;
  /** When this process heard that a read here can see it (ms since the epoch, this node's clock). */
  seenAt: number;
}

export class LiteFsNode {
  private info?: { value: Info; at: number };
  private readonly waiters = new Map<string, Set<Waiter>>();
  private readonly pollers = new Map<string, NodeJS.Timeout>();
  private events?: AbortController;
  /** True while the event stream is connected (its `init` event has arrived). */
  private eventsLive = false;
  private readonly appliedListeners: Array<(commit: AppliedCommit) => void> = [];
  /** Databases the event stream has announced a transaction of: their next one will be announced too. */
  private readonly announced = new Set<string>();
  /** Highest TXID learned by any means (events or the position file), per database: a lower bound of its position. */
  private readonly learned = new Map<string, bigint>();
  /** Newest TXID of a write this process has answered, per database. */
  private readonly acked = new Map<string, bigint>();
  /** The `<db>-pos` files read so far, by database. */
  private readonly posFiles = new Map<string, PositionFile>();

  private readonly infoTtlMs: number;
  private readonly pollIntervalMs: number;

  constructor(
    readonly mountDir: string,
    readonly apiUrl: string,
    opts: { infoTtlMs?: number; pollIntervalMs?: number } = {},
  ) {
    this.infoTtlMs = opts.infoTtlMs ?? DefaultInfoTtlMs;
    this.pollIntervalMs = opts.pollIntervalMs ?? DefaultPollIntervalMs;
  }

  /** The node's role and the primary's hostname, from the LiteFS API (cached briefly). */
  async describe(): Promise<Info> {
    const now = Date.now();
    if (this.info && now - this.info.at < this.infoTtlMs) return this.info.value;
    let value: Info;
    try {
      value = await fetchInfo(this.apiUrl);
    } catch (err) {
      throw unavailable('this node cannot reach its LiteFS API', err);
    }
    this.info = { value, at: now };
    return value;
  }

  async isPrimary(): Promise<boolean> {
    return (await this.describe()).isPrimary;
  }

  /**
   * How long ago this node last heard from the primary, in ms, from LiteFS's
   * `<mount>/.lag`: 0 on the primary; on a replica, the time since the
   * primary's timestamp of the last transaction it applied or heartbeat it
   * got (the primary sends one a second while nothing is written); 2^31 - 1
   * before its first sync. Undefined when the file cannot be read or holds no
   * whole number. Read afresh each time (opened anew, so the kernel keeps no
   * old copy): a replica cut off from its primary gets no frame that would
   * refresh it.
   */
  async lagMs(): Promise<number | undefined> {
    try {
      const text = (await readFile(join(this.mountDir, '.lag'), 'utf8')).trim();
      // Number('') is 0: an empty file is no lag reading, not "current".
      return /^[+-]?\d+$/.test(text) ? Math.max(0, Number(text)) : undefined;
    } catch {
      return undefined;
    }
  }

  /** The TXID this node has of `dbName` (0 when the database does not exist yet). */
  position(dbName: string): bigint {
    let file = this.posFiles.get(dbName);
    if (!file) this.posFiles.set(dbName, (file = new PositionFile(join(this.mountDir, `${dbName}-pos`))));
    const txid = file.read();
    this.learn(dbName, txid);
    return txid;
  }

  /**
   * The highest TXID of `dbName` this process has learned so far, from events
   * or the position file: the node has at least this much. Whoever was told
   * "TXID n has arrived" was told so after this reached n.
   */
  known(dbName: string): bigint {
    return this.learned.get(dbName) ?? 0n;
  }

  /**
   * `known(dbName)` when this process learns of every commit of `dbName` as
   * LiteFS makes it (the event stream is live and has announced a commit of
   * it since it connected), else undefined. While defined it is the data's
   * version: LiteFS announces a commit only once a new read can see it (on a
   * replica while still holding the locks it applied it under, on the primary
   * after SQLite published it in the WAL index), so a read that begins after
   * this reached n sees n, and nothing changes without this moving.
   */
  followed(dbName: string): bigint | undefined {
    return this.eventsLive && this.announced.has(dbName) ? this.known(dbName) : undefined;
  }

  /**
   * Records that this process told a client its write committed at `txid`
   * (the `x-txid` of a write answer), so later reads here may not be older.
   */
  acknowledge(dbName: string, txid: bigint): void {
    if (txid > (this.acked.get(dbName) ?? 0n)) this.acked.set(dbName, txid);
  }

  /** The newest TXID of `dbName` a write answered by this process committed at (0 before any). */
  acknowledged(dbName: string): bigint {
    return this.acked.get(dbName) ?? 0n;
  }

  /** Records that `dbName` has reached at least `txid` here (e.g. a commit a writer thread reported). */
  learn(dbName: string, txid: bigint): void {
    if (txid > (this.learned.get(dbName) ?? 0n)) this.learned.set(dbName, txid);
  }

  /**
   * Resolves true once this node's `dbName` has reached `txid`, false after
   * `timeoutMs`. One poll loop per database serves every waiter.
   */
  waitForTxid(dbName: string, txid: bigint, timeoutMs: number): Promise<boolean> {
    if (this.known(dbName) >= txid) return Promise.resolve(true);
    // With the stream live and this database announced, its next tx event
    // will wake us: no need to read the file now.
    if (!(this.eventsLive && this.announced.has(dbName)) && this.position(dbName) >= txid) return Promise.resolve(true);
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

  /**
   * Calls `listener` for each transaction the event stream announces that
   * carries its timestamp (for the commit-visibility metrics). It also starts
   * following the stream.
   */
  onApplied(listener: (commit: AppliedCommit) => void): void {
    this.appliedListeners.push(listener);
    this.subscribe();
  }

  /**
   * Starts following the LiteFS event stream now, so that the first burst of
   * waits after start-up is already served by events (otherwise every wait
   * until the stream is live reads the position file).
   */
  watch(): void {
    this.subscribe();
  }

  /** Stops the event subscription and closes the position files (at shutdown). */
  close(): void {
    this.events?.abort();
    for (const file of this.posFiles.values()) file.close();
    this.posFiles.clear();
  }

  /** Resolves the waiters of `dbName` that `known` (else the position file, read only if someone waits) satisfies. */
  private wake(dbName: string, known?: bigint): void {
    const set = this.waiters.get(dbName);
    if (!set || set.size === 0) return;
    const pos = known ?? this.position(dbName);
    for (const w of set) {
      if (pos >= w.txid) {
        clearTimeout(w.timer);
        set.delete(w);
        w.resolve(true);
      }
    }
    if (set.size === 0) {
      clearTimeout(this.pollers.get(dbName));
      this.pollers.delete(dbName);
    }
  }

  private ensurePolling(dbName: string): void {
    this.subscribe();
    if (this.pollers.has(dbName)) return;
    const tick = () => {
      const set = this.waiters.get(dbName);
      if (!set || set.size === 0) {
        this.pollers.delete(dbName);
        return;
      }
      this.wake(dbName);
      if (this.pollers.has(dbName)) this.pollers.set(dbName, setTimeout(tick, this.pollIntervalMs).unref());
    };
    this.pollers.set(dbName, setTimeout(tick, this.pollIntervalMs).unref());
  }

  /**
   * Follows the LiteFS event stream for as long as this node lives, reconnecting
   * when it drops. Plain node:http rather than fetch: a replica gets one event per
   * commit, and in its profile under forwarded writes fetch's stream machinery
   * (undici, web streams, TextDecoderStream) took several percent of its time.
   */
  private subscribe(): void {
    if (this.events) return;
    const controller = (this.events = new AbortController());
    const follow = () => {
      if (controller.signal.aborted) return;
      let retried = false;
      const retry = () => {
        if (retried) return;
        retried = true;
        this.eventsLive = false; // the slow poll covers the gap until we reconnect
        // Commits made meanwhile go unannounced: a database is followed again
        // from its next announced commit, which carries its latest TXID.
        this.announced.clear();
        if (!controller.signal.aborted) setTimeout(follow, EventReconnectMs).unref();
      };
      const req = httpGet(`${this.apiUrl}/events`, { signal: controller.signal }, (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          return retry();
        }
        res.setEncoding('utf8');
        let buffered = '';
        res.on('data', (chunk: string) => {
          buffered += chunk;
          for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
            this.onEvent(buffered.slice(0, nl));
            buffered = buffered.slice(nl + 1);
          }
        });
        res.on('end', retry);
        res.on('error', retry);
      });
      req.on('error', retry);
      // The stream is long-lived: it must not keep a stopping process alive.
      req.on('socket', (socket) => socket.unref());
    };
    follow();
  }

  private onEvent(line: string): void {
    let event: { type?: unknown; db?: unknown; data?: { txID?: unknown; timestamp?: unknown } };
    try {
      event = JSON.parse(line) as typeof event;
    } catch {
      return;
    }
    if (event.type === 'init') this.eventsLive = true;
    if (event.type !== 'tx' || typeof event.db !== 'string') return;
    const hex = event.data?.txID;
    if (typeof hex !== 'string' || !/^[0-9a-f]{1,16}$/i.test(hex)) {
      this.wake(event.db); // an event we cannot read: fall back to the file
      return;
    }
    const txid = BigInt(`0x${hex}`);
    this.announced.add(event.db);
    this.learn(event.db, txid);
    this.wake(event.db, this.known(event.db));
    const committedAt = typeof event.data?.timestamp === 'string' ? Date.parse(event.data.timestamp) : NaN;
    if (this.appliedListeners.length === 0 || !Number.isFinite(committedAt)) return;
    const commit: AppliedCommit = { db: event.db, txid, committedAt, seenAt: Date.now() };
    for (const listener of this.appliedListeners) listener(commit);
  }
}

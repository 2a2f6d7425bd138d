/**
 * Answers to hot reads, kept until the data they were read from changes.
 *
 * Why: on registration day every student loads the catalogue, and between
 * two commits they all get the same answer. Reading a 50-section page costs
 * the service far more than answering it: about 130 µs of CPU in SQLite and
 * better-sqlite3 alone (building 700 JavaScript values) on a plain disk, plus
 * the conversion to messages. In `npm run bench -- --only 05` memoised pages
 * raised catalogue reads through Envoy by a quarter or more (docs/DESIGN.md,
 * "Catalogue answers are reused until the data changes").
 *
 * When an answer may be reused. An answer belongs to the version of the
 * data it was computed at, and the version comes from one of two places.
 *
 * The TXID, while the process follows every commit (`followed`, which a
 * service wires to `LiteFsNode.followed`: LiteFS's event stream is live and
 * has announced a commit of this database since it connected). LiteFS
 * announces a commit only once a new read would see it: on a replica it
 * announces while still holding the locks it applied the transaction under,
 * and on the primary when SQLite releases the WAL write lock, after it has
 * published the commit in the WAL index. So an answer computed after TXID n
 * was learned includes n, and until a newer TXID is learned it can be given
 * again without reading anything: no WAL read lock, so no FUSE round trip to
 * LiteFS and no wait while LiteFS applies a replicated transaction. Such an
 * answer is as new as everything this process had been told had arrived,
 * which is what read-your-writes and `x-min-txid` promise: their waits end
 * on the same learned TXIDs.
 *
 * Otherwise (no event stream, or no commit announced yet) SQLite's own view
 * of the version, read through this connection in the read scope just
 * before the answer would be computed:
 * - `PRAGMA data_version` changes when the connection begins a read and finds
 *   that another connection committed: the primary's writer thread, or LiteFS
 *   applying a replicated transaction on a replica (SQLite notices it the same
 *   way, through the WAL index, or its own page cache would be stale);
 * - `total_changes()` counts the connection's own changes: the primary with
 *   its writer on the event loop reads through the write connection, whose
 *   own commits do not move `data_version`. (Rolled-back changes count too,
 *   which only costs a needless miss.)
 * Inside a shared snapshot (`lib/shared-reads.ts`) the version is that
 * snapshot's. Outside a transaction the version comes from its own statement.
 *
 * Either way, the answer is computed after its version was learned, on a
 * snapshot begun after that (on the reader thread, or on the connection in
 * the read scope): it may be newer than its version, never older. So a reused
 * answer is at least as new as the data the read was entitled to when it
 * began, and read-your-writes and `x-min-txid` waits keep their meaning.
 * Callers that miss while an answer is being computed for the same version
 * share that computation instead of starting their own.
 *
 * While the next answer is computed (`staleMs`, READ_MEMO_STALE_MS). After a
 * commit, the first caller would otherwise wait for a new answer: a hop to
 * the reader thread, the query, and on a replica the read lock, which LiteFS
 * does not grant while it applies a replicated transaction (each such fcntl
 * took 2–12 ms under 100 commits/s on node2, `docs/DESIGN.md`, "How a replica
 * reads"). Readers would wait on writes. So once a key has an answer, a
 * newer version starts one computation in the background, and meanwhile
 * callers get the kept answer, if
 * - it is versioned by a followed TXID (so its age in commits is known),
 * - its computation began at most `staleMs` ago, so it includes everything
 *   this process had learned by then, and
 * - its TXID is at least `floor()`: the caller's `x-min-txid` and every write
 *   this process answered (`LiteFsNode.acknowledged`), so read-your-writes
 *   and `x-min-txid` hold for it as for a fresh answer.
 * Otherwise the caller waits for an answer of the current version, as before.
 * One background computation per key runs at a time, so a burst of commits
 * costs one query per key per computation, not one per commit.
 *
 * At most `maxEntries` keys are kept; a new key pushes out the one whose last
 * computation began longest ago.
 *
 * Answers are shared between callers, so they are frozen: a caller that
 * tried to change one would throw instead of corrupting the others' answers.
 * They are also marked shared (lib/shared-answers.ts), so that each is
 * encoded into protobuf once, not once per caller.
 */
import type Database from 'better-sqlite3';
import { markShared } from './shared-answers.js';
import { autocommitReads, type ReadScope } from './shared-reads.js';

/** At most this many answers are kept (distinct pages and filters). */
export const DefaultMaxEntries = 64;

/** The `staleMs` a service gives its memo unless READ_MEMO_STALE_MS says otherwise (lib/config.ts). */
export const DefaultStaleMs = 100;

interface SqliteVersion {
  data_version: number;
  changes: number;
}

export interface ReadMemoStats {
  /** Answers given for the current version of the data (kept, or shared while computed). */
  hits: number;
  /** Computations started because no answer could be given at once. */
  misses: number;
  /** Answers given from before the latest commit, while a newer one was computed (`staleMs`). */
  stale: number;
}

export interface ReadMemoOptions {
  /** Entered before the memo reads SQLite's version through the connection (default: each statement on its own). */
  reads?: ReadScope;
  /**
   * The TXID the data is known to be at, while every commit is learned as
   * LiteFS makes it (`LiteFsNode.followed`), else undefined. While defined it
   * versions the answers, and the memo reads nothing at all.
   */
  followed?: () => bigint | undefined;
  maxEntries?: number;
  /**
   * How old an answer may be and still be given after the data has moved on,
   * while a newer one is computed: the answer's computation began at most
   * this many ms ago. 0 (the default) gives only answers of the current
   * version. Only answers versioned by a followed TXID are given this way.
   */
  staleMs?: number;
  /**
   * The lowest TXID an answer given to the current caller may have been read
   * at (the `x-min-txid` it waited for, the newest write this process
   * acknowledged): an older kept answer is not given, however recent.
   */
  floor?: () => bigint;
}

/** One computation of an answer: what it was read at, when it began, and the answer. */
interface Computation {
  version: string;
  /** The followed TXID it was versioned by; undefined for SQLite's version. */
  txid: bigint | undefined;
  startedAt: number;
  answer: Promise<unknown>;
}

/** What the memo holds for one key. */
interface Entry {
  /** The newest computation that succeeded. */
  settled?: Computation;
  /** A computation still running (the newest one started). */
  pending?: Computation;
}

export class ReadMemo {
  private readonly versionStmt: Database.Statement<[], SqliteVersion>;
  private readonly reads: ReadScope;
  private readonly followed: () => bigint | undefined;
  private readonly maxEntries: number;
  private readonly staleMs: number;
  private readonly floor: () => bigint;
  /** Per key; in the order they last began a computation, oldest first. */
  private readonly entries = new Map<string, Entry>();
  private hits = 0;
  private misses = 0;
  private stale = 0;

  constructor(db: Database.Database, opts: ReadMemoOptions = {}) {
    this.versionStmt = db.prepare<[], SqliteVersion>('SELECT data_version, total_changes() AS changes FROM pragma_data_version');
    this.reads = opts.reads ?? autocommitReads;
    this.followed = opts.followed ?? (() => undefined);
    this.maxEntries = opts.maxEntries ?? DefaultMaxEntries;
    this.staleMs = opts.staleMs ?? 0;
    this.floor = opts.floor ?? (() => 0n);
  }

  /**
   * The answer for `key`: the one kept for the current version of the data;
   * else, within `staleMs` and the floor, the newest kept answer while a
   * newer one is computed; else the one being computed for the current
   * version, or a new computation by `compute`, which callers of the same
   * version share.
   * `compute` must depend on nothing but `key` and the data, and read a
   * snapshot that begins after it is called (the reader thread, or the
   * connection, entering the read scope): its answer is then at least as new
   * as the version it is kept for. A failure reaches every caller that waits
   * for that computation, and nothing is kept.
   */
  get<T>(key: string, compute: () => Promise<T>): Promise<T> {
    const txid = this.followed();
    const version = txid !== undefined ? `txid:${txid}` : this.sqliteVersion();
    const entry = this.entries.get(key);
    if (entry?.settled?.version === version) {
      this.hits += 1;
      return entry.settled.answer as Promise<T>;
    }
    if (entry?.settled && this.givableStale(entry.settled)) {
      this.stale += 1;
      // One refresh at a time: while it runs, callers keep getting the kept answer.
      if (!entry.pending) this.start(key, entry, version, txid, compute);
      return entry.settled.answer as Promise<T>;
    }
    if (entry?.pending?.version === version) {
      this.hits += 1;
      return entry.pending.answer as Promise<T>;
    }
    this.misses += 1;
    return this.start(key, entry, version, txid, compute).answer as Promise<T>;
  }

  stats(): ReadMemoStats {
    return { hits: this.hits, misses: this.misses, stale: this.stale };
  }

  /** A kept answer from before the current version that may still be given. */
  private givableStale(c: Computation): boolean {
    return c.txid !== undefined && performance.now() - c.startedAt <= this.staleMs && c.txid >= this.floor();
  }

  /** Starts computing `key` at `version`, kept (unless the memo is full of other keys) once it succeeds. */
  private start(key: string, existing: Entry | undefined, version: string, txid: bigint | undefined, compute: () => Promise<unknown>): Computation {
    const c: Computation = { version, txid, startedAt: performance.now(), answer: compute().then(share) };
    const entry = existing ?? {};
    // Re-inserted, so the map stays in the order keys last began a computation: the first
    // key is the one that began one longest ago, and it goes when room is needed.
    this.entries.delete(key);
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, entry);
    entry.pending = c;
    c.answer.then(
      () => {
        if (!entry.settled || c.startedAt >= entry.settled.startedAt) entry.settled = c;
        if (entry.pending === c) entry.pending = undefined;
      },
      () => {
        if (entry.pending === c) entry.pending = undefined;
        // A key whose only computation failed keeps nothing, not even its place.
        if (!entry.settled && !entry.pending && this.entries.get(key) === entry) this.entries.delete(key);
      },
    );
    return c;
  }

  /** SQLite's version, read in the read scope: entering it is what a read would do anyway. */
  private sqliteVersion(): string {
    this.reads.enter();
    const v = this.versionStmt.get()!;
    return `sqlite:${v.data_version}:${v.changes}`;
  }
}

/** Frozen, and marked shared: every caller gets this very object, so its response bytes can be shared too. */
function share<T>(value: T): T {
  const frozen = deepFreeze(value);
  if (typeof frozen === 'object' && frozen !== null) markShared(frozen);
  return frozen;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !ArrayBuffer.isView(value) && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}

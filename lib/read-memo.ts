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
 * When an answer may be reused. Answers are kept for one version of the
 * data at a time, and the version comes from one of two places.
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
 * Answers are shared between callers, so they are frozen: a caller that
 * tried to change one would throw instead of corrupting the others' answers.
 * They are also marked shared (lib/shared-answers.ts), so that each is
 * encoded into protobuf once, not once per caller.
 */
import type Database from 'better-sqlite3';
import { markShared } from './shared-answers.js';
import { autocommitReads, type ReadScope } from './shared-reads.js';

/** At most this many answers are kept for one version of the data (distinct pages and filters). */
export const DefaultMaxEntries = 64;

interface SqliteVersion {
  data_version: number;
  changes: number;
}

export interface ReadMemoStats {
  hits: number;
  misses: number;
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
}

export class ReadMemo {
  private readonly versionStmt: Database.Statement<[], SqliteVersion>;
  private readonly reads: ReadScope;
  private readonly followed: () => bigint | undefined;
  private readonly maxEntries: number;
  /** The version the kept answers (and those being computed) belong to, as `txid:…` or `sqlite:…:…`. */
  private version: string | undefined;
  /** Per key, the answer, or the computation whose answer every caller of this version shares. */
  private readonly answers = new Map<string, Promise<unknown>>();
  private hits = 0;
  private misses = 0;

  constructor(db: Database.Database, opts: ReadMemoOptions = {}) {
    this.versionStmt = db.prepare<[], SqliteVersion>('SELECT data_version, total_changes() AS changes FROM pragma_data_version');
    this.reads = opts.reads ?? autocommitReads;
    this.followed = opts.followed ?? (() => undefined);
    this.maxEntries = opts.maxEntries ?? DefaultMaxEntries;
  }

  /**
   * The answer for `key` at the current version of the data, computed by
   * `compute` when not already known or being computed. `compute` must depend
   * on nothing but `key` and the data, and read a snapshot that begins after
   * it is called (the reader thread, or the connection, entering the read
   * scope): its answer is then at least as new as the version it is kept for.
   * Callers that ask while it runs share its answer. A failure reaches
   * them all, and nothing is kept.
   */
  get<T>(key: string, compute: () => Promise<T>): Promise<T> {
    const now = this.currentVersion();
    if (now !== this.version) {
      this.version = now;
      this.answers.clear();
    }
    const known = this.answers.get(key);
    if (known) {
      this.hits += 1;
      return known as Promise<T>;
    }
    this.misses += 1;
    const answer = compute().then((value) => {
      const frozen = deepFreeze(value);
      // Every caller gets this very object, so its response bytes can be shared too.
      if (typeof frozen === 'object' && frozen !== null) markShared(frozen);
      return frozen;
    });
    if (this.answers.size < this.maxEntries) {
      this.answers.set(key, answer);
      answer.catch(() => {
        if (this.answers.get(key) === answer) this.answers.delete(key);
      });
    }
    return answer;
  }

  /**
   * A followed TXID costs nothing to learn. Otherwise SQLite's version, read
   * in the read scope: entering it is what a read would do anyway.
   */
  private currentVersion(): string {
    const txid = this.followed();
    if (txid !== undefined) return `txid:${txid}`;
    this.reads.enter();
    const v = this.versionStmt.get()!;
    return `sqlite:${v.data_version}:${v.changes}`;
  }

  stats(): ReadMemoStats {
    return { hits: this.hits, misses: this.misses };
  }
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !ArrayBuffer.isView(value) && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}

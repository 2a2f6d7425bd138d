/**
 * Read stalls on a replica: how long a plain SQLite read on a replica's LiteFS
 * mount waits while LiteFS applies the primary's commits there.
 *
 * A replica applies each replicated transaction under SQLite's own locks: it
 * takes the WAL read locks of the `-shm` file, which LiteFS serves itself, so
 * a reader that starts a read transaction meanwhile gets EAGAIN from fcntl
 * (after a slow FUSE round trip) and SQLite retries with short sleeps. The
 * reader's thread is asleep, not busy, for that time: in the services that
 * thread is the event loop.
 *
 * Two worker threads of this process, on their own clocks: a committer on the
 * primary's mount (one insert per commit, at a fixed rate) and a reader on the
 * replica's mount (one-row read transaction, then about 1 ms asleep). For each
 * read slower than `slowMs` the reader splits its time, from
 * /proc/thread-self/schedstat, into on a core, waiting for a core, and the
 * rest: asleep in a system call.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';

export interface ReplicaReadOptions {
  primaryMount: string;
  replicaMount: string;
  /** Database file name inside the mounts (created on the primary). */
  file: string;
  /** Commits per second on the primary; 0 for none. */
  commitsPerSecond: number;
  durationMs: number;
  /** Reads slower than this are split into on-core, waiting and asleep time. */
  slowMs: number;
}

export interface ReplicaReadResult {
  /** Each read's latency, ms. */
  lat: number[];
  seconds: number;
  commits: number;
  slow: { count: number; wallMs: number; onCpuMs: number; waitingMs: number };
}

interface ReaderOut {
  lat: number[];
  seconds: number;
  slow: ReplicaReadResult['slow'];
}

const SCHEMA = 'CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v INTEGER NOT NULL)';

/** Creates the file on the primary and waits until the replica can read it. */
export async function prepareReplicaReads(o: Pick<ReplicaReadOptions, 'primaryMount' | 'replicaMount' | 'file'>): Promise<void> {
  const db = new Database(join(o.primaryMount, o.file));
  db.pragma('journal_mode = WAL');
  db.exec(SCHEMA);
  db.prepare('INSERT INTO t (v) VALUES (0)').run();
  db.close();
  const path = join(o.replicaMount, o.file);
  for (let i = 0; i < 200; i++) {
    if (existsSync(path)) {
      const r = new Database(path, { readonly: true, fileMustExist: true });
      try {
        if (r.prepare("SELECT 1 FROM sqlite_master WHERE name = 't'").get()) return;
      } finally {
        r.close();
      }
    }
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error(`${o.file} did not reach ${o.replicaMount}`);
}

export async function measureReplicaReads(o: ReplicaReadOptions): Promise<ReplicaReadResult> {
  const stop = new SharedArrayBuffer(4);
  const start = (role: 'reader' | 'committer') => {
    const w = new Worker(fileURLToPath(import.meta.url), { workerData: { role, o, stop } });
    const out = new Promise<unknown>((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    });
    return { w, out };
  };
  const reader = start('reader');
  const committer = o.commitsPerSecond > 0 ? start('committer') : undefined;
  await new Promise((res) => setTimeout(res, o.durationMs));
  const flag = new Int32Array(stop);
  Atomics.store(flag, 0, 1);
  const r = (await reader.out) as ReaderOut;
  const commits = committer ? ((await committer.out) as number) : 0;
  await reader.w.terminate();
  await committer?.w.terminate();
  return { ...r, commits };
}

/** [time on a core, time waiting for one], ms, of the calling thread. */
function schedstat(): [number, number] {
  const [onCpu, waiting] = readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ').map(Number);
  return [onCpu! / 1e6, waiting! / 1e6];
}

function readerLoop(o: ReplicaReadOptions, stop: Int32Array): ReaderOut {
  const db = new Database(join(o.replicaMount, o.file), { readonly: true, fileMustExist: true });
  db.pragma('busy_timeout = 5000');
  const begin = db.prepare('BEGIN');
  const read = db.prepare('SELECT max(id) AS id FROM t');
  const commit = db.prepare('COMMIT');
  const nap = new Int32Array(new SharedArrayBuffer(4));
  const lat: number[] = [];
  const slow = { count: 0, wallMs: 0, onCpuMs: 0, waitingMs: 0 };
  const t0 = performance.now();
  while (Atomics.load(stop, 0) === 0) {
    const [c0, w0] = schedstat();
    const s = performance.now();
    begin.run();
    read.get();
    commit.run();
    const d = performance.now() - s;
    lat.push(d);
    if (d > o.slowMs) {
      const [c1, w1] = schedstat();
      slow.count += 1;
      slow.wallMs += d;
      slow.onCpuMs += c1 - c0;
      slow.waitingMs += w1 - w0;
    }
    Atomics.wait(nap, 0, 0, 1);
  }
  const seconds = (performance.now() - t0) / 1000;
  db.close();
  return { lat, seconds, slow };
}

function committerLoop(o: ReplicaReadOptions, stop: Int32Array): number {
  const db = new Database(join(o.primaryMount, o.file));
  db.pragma('busy_timeout = 5000');
  db.pragma('synchronous = FULL');
  const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
  const nap = new Int32Array(new SharedArrayBuffer(4));
  const t0 = performance.now();
  let n = 0;
  while (Atomics.load(stop, 0) === 0) {
    const due = Math.floor(((performance.now() - t0) * o.commitsPerSecond) / 1000);
    while (n < due && Atomics.load(stop, 0) === 0) insert.run(n++);
    Atomics.wait(nap, 0, 0, 1);
  }
  db.close();
  return n;
}

if (!isMainThread && (workerData as { role?: string })?.role) {
  const { role, o, stop } = workerData as { role: 'reader' | 'committer'; o: ReplicaReadOptions; stop: SharedArrayBuffer };
  const flag = new Int32Array(stop);
  parentPort!.postMessage(role === 'reader' ? readerLoop(o, flag) : committerLoop(o, flag));
}

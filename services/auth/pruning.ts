/**
 * When the primary deletes what is no longer kept (AuthDomain.prune): once
 * every `everyMs` (AUTH_PRUNE_INTERVAL_S), each time at most `batch` rows of
 * each kind, so no delete makes one large commit. A run that deleted a whole
 * batch of either kind has left a backlog (a retention just shortened, a year
 * of logins coming of age, a restored old database): the next run follows
 * after `drainPauseMs` instead, and so on until a run deletes less than a
 * batch. Runs never overlap, and each waits its turn in the writer's queue
 * like any write, so logins keep going between them.
 */
import type { PruneResult } from './domain/index.js';

/**
 * Between runs while a backlog drains: a run of 1,000 deletes of each kind holds the
 * writer for some milliseconds, so this lets logins through between runs and still
 * deletes a million-row backlog in minutes rather than the 17 hours of one run a minute.
 */
export const PRUNE_DRAIN_PAUSE_MS = 250;

export interface PruneSchedule {
  /** Between runs while nothing is left over. */
  everyMs: number;
  /** Between runs while a backlog drains. */
  drainPauseMs: number;
  /** The most rows of each kind one run deletes (what `prune` is told). */
  batch: number;
}

export interface PruneHooks {
  pruned(result: PruneResult): void;
  failed(err: unknown): void;
}

/** setTimeout, or a stand-in in the tests. */
export type Schedule = (run: () => void, ms: number) => { cancel(): void };

const realSchedule: Schedule = (run, ms) => {
  const timer = setTimeout(run, ms);
  timer.unref();
  return { cancel: () => clearTimeout(timer) };
};

/** Starts the runs; the first after `everyMs`. Returns a stop function (a run under way finishes). */
export function startPruning(prune: (max: number) => Promise<PruneResult>, schedule: PruneSchedule, hooks: PruneHooks, later: Schedule = realSchedule): () => void {
  let stopped = false;
  let pending = later(() => void run(), schedule.everyMs);
  async function run(): Promise<void> {
    let next = schedule.everyMs;
    try {
      const result = await prune(schedule.batch);
      hooks.pruned(result);
      if (result.authLogs >= schedule.batch || result.refreshTokens >= schedule.batch) next = schedule.drainPauseMs;
    } catch (err) {
      hooks.failed(err);
    }
    if (!stopped) pending = later(() => void run(), next);
  }
  return () => {
    stopped = true;
    pending.cancel();
  };
}

/**
 * Logins whose password checks end close together write together.
 *
 * A login is one small write, and a commit on LiteFS costs several ms of
 * CPU across the three nodes, however few writes it holds. The argon2id
 * check before it takes tens of milliseconds on the thread pool, so
 * concurrent logins finish at scattered moments and each would commit
 * alone: group commit only gathers writes that arrive together. The gate
 * lets a login whose check is done wait while other checks are still
 * running, at most `waitMs`, then lets every waiting login go in the same
 * turn of the event loop, so their writes share one group commit (or, on a
 * replica, one forwarded message).
 *
 * A login never waits when no other check is running (a lone login pays
 * nothing), and the waiters go as soon as the last running check ends. The
 * wait happens before the write, never between the commit and the answer.
 *
 * Registration is the same shape (an argon2id hash, then one write) and
 * passes the same gate: a "check" here is any password work.
 */
export class HashGate {
  readonly #waitMs: number;
  #checking = 0;
  #waiting: Array<() => void> = [];
  #timer: NodeJS.Timeout | undefined;

  /** `waitMs` 0 turns the gate off. */
  constructor(waitMs: number) {
    this.#waitMs = waitMs;
  }

  /**
   * Runs `check` (the password check), then resolves once this login may
   * write. `check`'s rejection passes through without waiting.
   */
  async after<T>(check: () => Promise<T>): Promise<T> {
    this.#checking += 1;
    let result: T;
    try {
      result = await check();
    } finally {
      this.#checking -= 1;
      // No check left running: nobody else is coming soon, so whoever waits goes now.
      if (this.#checking === 0) this.#release();
    }
    if (this.#waitMs > 0 && this.#checking > 0) {
      await new Promise<void>((resolve) => {
        this.#waiting.push(resolve);
        this.#timer ??= setTimeout(() => this.#release(), this.#waitMs);
      });
    }
    return result;
  }

  /** Logins waiting right now (for tests). */
  get waiting(): number {
    return this.#waiting.length;
  }

  #release(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const resolve of waiting) resolve();
  }
}

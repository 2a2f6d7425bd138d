/**
 * For unit tests that read the environment: every test of the file starts
 * with `names` unset, and whatever a test sets is put back as it was after it.
 */
import { afterEach, beforeEach } from 'node:test';

export function isolateEnv(names: readonly string[]): void {
  let saved: Record<string, string | undefined> = {};
  beforeEach(() => {
    saved = Object.fromEntries(names.map((n) => [n, process.env[n]]));
    for (const n of names) delete process.env[n];
  });
  afterEach(() => {
    for (const n of names) {
      if (saved[n] === undefined) delete process.env[n];
      else process.env[n] = saved[n];
    }
  });
}

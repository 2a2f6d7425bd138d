import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { HashGate } from './hash-gate.js';

/** A password check the test ends by hand. */
interface PendingCheck {
  run: () => Promise<boolean>;
  finish: () => void;
  fail: (err: Error) => void;
}

function pendingCheck(): PendingCheck {
  let finish!: () => void;
  let fail!: (err: Error) => void;
  const done = new Promise<boolean>((resolve, reject) => {
    finish = () => resolve(true);
    fail = reject;
  });
  return { run: () => done, finish, fail };
}

/**
 * Starts one login through `gate` per name, each with a check the test ends by
 * hand. `gone` lists the logins the gate has let through (or that failed), in order.
 */
function startLogins(gate: HashGate, names: string[]) {
  const gone: string[] = [];
  const logins = names.map((name) => {
    const check = pendingCheck();
    const through = gate.after(check.run).then(
      () => void gone.push(name),
      (err: unknown) => {
        gone.push(`${name} failed`);
        throw err;
      },
    );
    return { check, through };
  });
  return { gone, checks: logins.map((l) => l.check), through: logins.map((l) => l.through) };
}

/** Resolves at the next turn of the event loop: after every microtask of this one. */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

test('a lone login goes at once, however long the gate may hold', async () => {
  const gate = new HashGate(60_000);
  const started = performance.now();
  assert.equal(await gate.after(() => Promise.resolve('match')), 'match');
  assert.ok(performance.now() - started < 1_000);
  assert.equal(gate.waiting, 0);
});

test('a login done first waits for one still checking, and both go together', async () => {
  const gate = new HashGate(60_000);
  const { gone, checks: [a, b], through } = startLogins(gate, ['a', 'b']);
  a!.finish();
  await sleep(20);
  assert.deepEqual(gone, [], 'a waits while b checks');
  assert.equal(gate.waiting, 1);
  b!.finish();
  await nextTurn();
  assert.deepEqual([...gone].sort(), ['a', 'b'], 'both went in the same turn');
  await Promise.all(through);
  assert.equal(gate.waiting, 0);
});

test('waiting ends after waitMs even while another check runs on', async () => {
  const gate = new HashGate(30);
  const { gone, checks: [a, slow], through: [first, last] } = startLogins(gate, ['a', 'slow']);
  const released = performance.now();
  a!.finish();
  await first;
  const waited = performance.now() - released;
  assert.ok(waited >= 25, `a waited ${waited} ms, about waitMs`);
  assert.deepEqual(gone, ['a'], 'slow is still checking');
  slow!.finish();
  await last;
  assert.deepEqual(gone, ['a', 'slow']);
});

test('logins done while one waits go with it', async () => {
  const gate = new HashGate(60_000);
  const { gone, checks, through } = startLogins(gate, ['l0', 'l1', 'l2']);
  checks[0]!.finish();
  checks[1]!.finish();
  await sleep(10);
  assert.equal(gate.waiting, 2);
  checks[2]!.finish();
  await nextTurn();
  assert.deepEqual([...gone].sort(), ['l0', 'l1', 'l2'], 'all three went in the same turn');
  await Promise.all(through);
});

test('a failed check passes its error on at once, and, being the last, lets the waiters go', async () => {
  const gate = new HashGate(60_000);
  const { gone, checks: [a, b], through: [first, second] } = startLogins(gate, ['a', 'b']);
  a!.finish();
  await sleep(10);
  b!.fail(new Error('thread pool gone'));
  await assert.rejects(second!, /thread pool gone/);
  await first;
  assert.deepEqual([...gone].sort(), ['a', 'b failed'], 'both settled');
  assert.equal(gate.waiting, 0);
});

test('waitMs 0 never holds a login', async () => {
  const gate = new HashGate(0);
  const { gone, checks: [a, b], through: [first] } = startLogins(gate, ['a', 'b']);
  a!.finish();
  await first;
  assert.deepEqual(gone, ['a'], 'a went while b was still checking');
  b!.finish();
});

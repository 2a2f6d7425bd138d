import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { HashGate } from './hash-gate.js';

/** A password check the test ends by hand. */
function pendingCheck(): { run: () => Promise<boolean>; finish: () => void; fail: (err: Error) => void } {
  let finish!: () => void;
  let fail!: (err: Error) => void;
  const done = new Promise<boolean>((resolve, reject) => {
    finish = () => resolve(true);
    fail = reject;
  });
  return { run: () => done, finish, fail };
}

/** Resolves at the next turn of the event loop: after every microtask of this one. */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Records when (in order) each login was let through. */
function track(order: string[], name: string, p: Promise<unknown>): Promise<unknown> {
  return p.then(
    (v) => {
      order.push(name);
      return v;
    },
    (err: unknown) => {
      order.push(`${name} failed`);
      throw err;
    },
  );
}

test('a lone login goes at once, however long the gate may hold', async () => {
  const gate = new HashGate(60_000);
  const started = performance.now();
  assert.equal(await gate.after(() => Promise.resolve('match')), 'match');
  assert.ok(performance.now() - started < 1_000);
  assert.equal(gate.waiting, 0);
});

test('a login done first waits for one still checking, and both go together', async () => {
  const gate = new HashGate(60_000);
  const a = pendingCheck();
  const b = pendingCheck();
  const order: string[] = [];
  const first = track(order, 'a', gate.after(a.run));
  const second = track(order, 'b', gate.after(b.run));
  a.finish();
  await sleep(20);
  assert.deepEqual(order, [], 'a waits while b checks');
  assert.equal(gate.waiting, 1);
  b.finish();
  await nextTurn();
  assert.deepEqual([...order].sort(), ['a', 'b'], 'both went in the same turn');
  await Promise.all([first, second]);
  assert.equal(gate.waiting, 0);
});

test('waiting ends after waitMs even while another check runs on', async () => {
  const gate = new HashGate(30);
  const a = pendingCheck();
  const slow = pendingCheck();
  const order: string[] = [];
  const first = track(order, 'a', gate.after(a.run));
  const last = track(order, 'slow', gate.after(slow.run));
  const released = performance.now();
  a.finish();
  await first;
  const waited = performance.now() - released;
  assert.ok(waited >= 25, `a waited ${waited} ms, about waitMs`);
  assert.deepEqual(order, ['a'], 'slow is still checking');
  slow.finish();
  await last;
  assert.deepEqual(order, ['a', 'slow']);
});

test('logins done while one waits go with it', async () => {
  const gate = new HashGate(60_000);
  const checks = [pendingCheck(), pendingCheck(), pendingCheck()];
  const order: string[] = [];
  const logins = checks.map((c, i) => track(order, `l${i}`, gate.after(c.run)));
  checks[0]!.finish();
  checks[1]!.finish();
  await sleep(10);
  assert.equal(gate.waiting, 2);
  checks[2]!.finish();
  await nextTurn();
  assert.deepEqual([...order].sort(), ['l0', 'l1', 'l2'], 'all three went in the same turn');
  await Promise.all(logins);
});

test('a failed check passes its error on at once, and, being the last, lets the waiters go', async () => {
  const gate = new HashGate(60_000);
  const a = pendingCheck();
  const b = pendingCheck();
  const order: string[] = [];
  const first = track(order, 'a', gate.after(a.run));
  const second = track(order, 'b', gate.after(b.run));
  a.finish();
  await sleep(10);
  b.fail(new Error('thread pool gone'));
  await assert.rejects(second, /thread pool gone/);
  await first;
  assert.deepEqual([...order].sort(), ['a', 'b failed'], 'both settled');
  assert.equal(gate.waiting, 0);
});

test('waitMs 0 never holds a login', async () => {
  const gate = new HashGate(0);
  const a = pendingCheck();
  const b = pendingCheck();
  const order: string[] = [];
  const first = track(order, 'a', gate.after(a.run));
  void gate.after(b.run);
  a.finish();
  await first;
  assert.deepEqual(order, ['a'], 'a went while b was still checking');
  b.finish();
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeShared, markShared } from './shared-answers.js';

/** A serializer that counts its calls and encodes as JSON. */
function counting(): { serialize: (v: unknown) => Buffer; calls: () => number } {
  let calls = 0;
  return {
    serialize: (v) => {
      calls += 1;
      return Buffer.from(JSON.stringify(v));
    },
    calls: () => calls,
  };
}

test('a shared answer is encoded once, and every caller gets the same bytes', () => {
  const c = counting();
  const encode = encodeShared(c.serialize);
  const answer = markShared(Object.freeze({ sections: Object.freeze([Object.freeze({ id: 1 })]) }));
  const first = encode(answer);
  assert.equal(encode(answer), first);
  assert.equal(encode(answer), first);
  assert.equal(c.calls(), 1);
  assert.deepEqual(JSON.parse(first.toString()), { sections: [{ id: 1 }] });
});

test('answers not marked shared are encoded on every call, so a changed object is never answered stale', () => {
  const c = counting();
  const encode = encodeShared(c.serialize);
  const answer = { count: 1 };
  assert.equal(encode(answer).toString(), '{"count":1}');
  answer.count = 2;
  assert.equal(encode(answer).toString(), '{"count":2}');
  assert.equal(encode(null).toString(), 'null');
  assert.equal(c.calls(), 3);
});

test('two shared answers keep their own bytes', () => {
  const c = counting();
  const encode = encodeShared(c.serialize);
  const older = markShared(Object.freeze({ seats: 3 }));
  const newer = markShared(Object.freeze({ seats: 2 }));
  assert.equal(encode(older).toString(), '{"seats":3}');
  assert.equal(encode(newer).toString(), '{"seats":2}');
  assert.equal(encode(older).toString(), '{"seats":3}');
  assert.equal(c.calls(), 2);
});

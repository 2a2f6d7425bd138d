import assert from 'node:assert/strict';
import { test } from 'node:test';
import { uuidv7 } from './uuidv7.js';

test('a UUIDv7 carries its millisecond first, its version and variant, and sorts by time', () => {
  const t = Date.parse('2026-12-06T09:00:00.123Z');
  const id = uuidv7(t);
  assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(parseInt(id.replace(/-/g, '').slice(0, 12), 16), t);
  const later = uuidv7(t + 1);
  assert.ok(id < later, `${id} sorts before ${later}`);
  assert.notEqual(uuidv7(t), uuidv7(t), 'the rest is random');
});

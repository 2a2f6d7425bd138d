import assert from 'node:assert/strict';
import { test } from 'node:test';
import { wantsExpired } from './handlers.js';

const ask = (expired: string | undefined, originalPath?: string) =>
  wantsExpired({ credentials: null, expired } as Parameters<typeof wantsExpired>[0], originalPath);

test('?expired asks for an expired token unless it says false or 0', () => {
  const cases: Array<[string | undefined, string | undefined, boolean]> = [
    // [the transcoded field, x-envoy-original-path, wanted]
    [undefined, undefined, false],
    [undefined, '/auth', false],
    ['true', '/auth?expired=true', true],
    ['1', '/auth?expired=1', true],
    ['yes', '/auth?expired=yes', true],
    ['false', '/auth?expired=false', false],
    [' FALSE ', '/auth?expired=%20FALSE%20', false],
    ['0', '/auth?expired=0', false],
    // Envoy's transcoder drops a parameter without a value: only the original path has it.
    [undefined, '/auth?expired', true],
    [undefined, '/auth?other=1&expired', true],
    [undefined, '/auth?expired=false', false],
    [undefined, '/auth?notexpired=1', false],
  ];
  for (const [field, path, wanted] of cases) {
    assert.equal(ask(field, path), wanted, `expired=${JSON.stringify(field)} path=${path}`);
  }
});

import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { test } from 'node:test';
import { AppError, Status, invalidArgument, resourceExhausted, toGrpcStatus } from './errors.js';

test('an AppError keeps its code and client message', () => {
  assert.deepEqual(toGrpcStatus(invalidArgument('username', 'must not be empty')), {
    code: Status.INVALID_ARGUMENT,
    details: 'username: must not be empty',
  });
});

test('a RESOURCE_EXHAUSTED AppError carries when to try again; other errors carry no wait', () => {
  assert.deepEqual(toGrpcStatus(resourceExhausted('too many; try again in 7 s', 7)), { code: Status.RESOURCE_EXHAUSTED, details: 'too many; try again in 7 s', retryAfterSeconds: 7 });
  assert.equal('retryAfterSeconds' in toGrpcStatus(invalidArgument('x', 'bad')), false);
});

test("an INTERNAL AppError's message stays in the log: the client gets the generic one", () => {
  const err = new AppError(Status.INTERNAL, 'signing key abc cannot be decrypted: wrong key-encryption key or corrupted key');
  assert.deepEqual(toGrpcStatus(err), { code: Status.INTERNAL, details: 'internal error' });
});

test('SQLite errors map to statuses without leaking SQL', () => {
  const db = new Database(':memory:');
  db.exec('CREATE TABLE t (name TEXT UNIQUE)');
  db.prepare('INSERT INTO t VALUES (?)').run('x');
  let caught: unknown;
  try {
    db.prepare('INSERT INTO t VALUES (?)').run('x');
  } catch (err) {
    caught = err;
  }
  const status = toGrpcStatus(caught);
  assert.equal(status.code, Status.ALREADY_EXISTS);
  assert.doesNotMatch(status.details, /INSERT|UNIQUE|t\.name/);
});

test('unknown errors become INTERNAL with a generic message', () => {
  const status = toGrpcStatus(new Error('SELECT secret FROM keys failed at /srv/app.js:12'));
  assert.deepEqual(status, { code: Status.INTERNAL, details: 'internal error' });
});

test('an untranslated grpc-js error keeps a retryable code but not its text', () => {
  const grpcError = Object.assign(new Error('14 UNAVAILABLE: No connection established'), {
    code: Status.UNAVAILABLE,
    details: 'No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:7101',
  });
  assert.deepEqual(toGrpcStatus(grpcError), { code: Status.UNAVAILABLE, details: 'a service this one depends on is unavailable, retry' });
  const other = Object.assign(new Error('13 INTERNAL: boom at 10.0.0.7'), { code: Status.INTERNAL, details: 'boom at 10.0.0.7' });
  assert.deepEqual(toGrpcStatus(other), { code: Status.INTERNAL, details: 'internal error' });
});

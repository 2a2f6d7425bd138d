import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { AppError, Status } from '../../lib/errors.js';
import { loadProto, serviceClient } from '../../lib/grpc/proto.js';
import { directoryClient } from './directory-client.js';

/** A real UserDirectory server on `port` (0: any), answering one fixed user. */
async function startDirectory(port: number): Promise<{ server: grpc.Server; port: number }> {
  const { grpcObject } = loadProto('auth/v1/auth.proto');
  const server = new grpc.Server();
  server.addService(serviceClient(grpcObject, 'auth.v1.UserDirectory').service, {
    ListUsers: (call: grpc.ServerUnaryCall<{ after_id: number }, unknown>, cb: grpc.sendUnaryData<unknown>) =>
      cb(null, { users: call.request.after_id < 7 ? [{ user_id: 7, username: 'ada', first_name: 'Ada', last_name: 'L', roles: ['student'] }] : [] }),
  });
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return { server, port: bound };
}

/** A port nothing listens on (bound once, then released). */
async function freePort(): Promise<number> {
  const { server, port } = await startDirectory(0);
  server.forceShutdown();
  return port;
}

test('a call made before the auth service listens waits for it instead of failing at once', async () => {
  const port = await freePort();
  const directory = directoryClient(`127.0.0.1:${port}`, { timeoutMs: 5_000 });
  let server: grpc.Server | undefined;
  try {
    // The first call fails to connect and puts the channel into backoff; the server comes up meanwhile.
    const answer = directory.usersAfter(0);
    await new Promise((r) => setTimeout(r, 300));
    ({ server } = await startDirectory(port));
    assert.deepEqual(await answer, [{ id: 7, username: 'ada', first_name: 'Ada', last_name: 'L', roles: ['student'] }]);
    assert.deepEqual(await directory.usersAfter(7), []);
  } finally {
    directory.close();
    server?.forceShutdown();
  }
});

test('an unreachable auth service is a retryable UNAVAILABLE that names no address', async () => {
  const port = await freePort();
  const directory = directoryClient(`127.0.0.1:${port}`, { timeoutMs: 400 });
  try {
    await assert.rejects(directory.usersAfter(0), (err: unknown) => {
      assert.ok(err instanceof AppError);
      assert.equal(err.code, Status.UNAVAILABLE);
      assert.doesNotMatch(err.message, /127\.0\.0\.1|ECONNREFUSED|\d{4,5}/);
      return true;
    });
  } finally {
    directory.close();
  }
});

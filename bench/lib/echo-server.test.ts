// The bare echo server the floor and the control probe measure: it answers
// with the bytes it got, and never outlives the process that started it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { ECHO_SERVICE, echoCall, startEchoServer } from './echo-server.js';

test('it answers with the bytes it got, and stops when told', async () => {
  const echo = await startEchoServer();
  const client = new grpc.Client(echo.address, grpc.credentials.createInsecure());
  try {
    await echoCall(client, Buffer.from('hello'));
    const def = ECHO_SERVICE.Echo!;
    const back = await new Promise<Buffer>((resolve, reject) =>
      client.makeUnaryRequest(def.path, def.requestSerialize, def.responseDeserialize, Buffer.from('bytes back'), (err, res) => (err ? reject(err) : resolve(res!))),
    );
    assert.equal(back.toString(), 'bytes back');
  } finally {
    client.close();
    echo.stop();
  }
});

test('it exits once its stdin closes, so a parent that dies leaves no server behind', async () => {
  const child = spawn(process.execPath, [fileURLToPath(new URL('./echo-server.js', import.meta.url))], { stdio: ['pipe', 'pipe', 'inherit'] });
  try {
    const [first] = (await once(child.stdout!, 'data')) as [Buffer];
    assert.match(first.toString(), /^PORT \d+/);
    const exited = once(child, 'exit', { signal: AbortSignal.timeout(5000) });
    child.stdin!.end(); // what the kernel does to the pipe when the parent dies
    const [code] = (await exited) as [number];
    assert.equal(code, 0);
  } finally {
    child.kill('SIGKILL');
  }
});

/**
 * The floor: a bare grpc-js server with one unary method that returns its
 * request bytes, no proto decoding, no logging, no middleware. Run as its own
 * process (like the services), it prints `PORT <n>` once it listens.
 */
import * as grpc from '@grpc/grpc-js';
import { spawn } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';

const identity = (b: Buffer) => b;
export const ECHO_SERVICE: grpc.ServiceDefinition = {
  Echo: {
    path: '/bench.Echo/Echo',
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

/** One echo call on `client`: resolves once the bytes come back. */
export function echoCall(client: grpc.Client, payload: Buffer): Promise<void> {
  const def = ECHO_SERVICE.Echo!;
  return new Promise<void>((resolve, reject) => {
    client.makeUnaryRequest(def.path, def.requestSerialize, def.responseDeserialize, payload, (err) => (err ? reject(err) : resolve()));
  });
}

/** Starts this file as a process of its own; resolves once it listens. */
export async function startEchoServer(): Promise<{ address: string; pid: number; stop(): void }> {
  // Its stdin is a pipe from this process: when this process ends, however it
  // ends, the pipe closes and the server exits (main, below).
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = buf.match(/PORT (\d+)/);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`echo server exited (${code})`)));
  });
  return { address: `127.0.0.1:${port}`, pid: child.pid!, stop: () => child.kill('SIGTERM') };
}

function main(): void {
  const server = new grpc.Server();
  server.addService(ECHO_SERVICE, {
    Echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, call.request),
  });
  server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
    if (err) {
      console.error(err.message);
      process.exit(1);
    }
    process.stdout.write(`PORT ${port}\n`);
  });
  const exit = () => {
    server.forceShutdown();
    process.exit(0);
  };
  process.on('SIGTERM', exit);
  // The parent holds our stdin: its end means the parent is gone (even killed), so no server is left behind.
  process.stdin.on('end', exit).resume();
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();

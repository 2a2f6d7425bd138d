/**
 * The floor: a bare grpc-js server with one unary method that returns its
 * request bytes, no proto decoding, no logging, no middleware. It runs as a
 * process of its own (bench/lib/server-process.ts).
 */
import * as grpc from '@grpc/grpc-js';
import { pathToFileURL } from 'node:url';
import { rawMethod, serveUntilOrphaned, startServerProcess, type ServerProcess } from './server-process.js';

export const ECHO_SERVICE: grpc.ServiceDefinition = { Echo: rawMethod('/bench.Echo/Echo') };

/** One echo call on `client`: resolves once the bytes come back. */
export function echoCall(client: grpc.Client, payload: Buffer): Promise<void> {
  const def = ECHO_SERVICE.Echo!;
  return new Promise<void>((resolve, reject) => {
    client.makeUnaryRequest(def.path, def.requestSerialize, def.responseDeserialize, payload, (err) => (err ? reject(err) : resolve()));
  });
}

/** Starts this file as a process of its own; resolves once it listens. */
export function startEchoServer(): Promise<ServerProcess> {
  return startServerProcess(import.meta.url, [], 'echo server');
}

function main(): void {
  const server = new grpc.Server();
  server.addService(ECHO_SERVICE, {
    Echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, call.request),
  });
  serveUntilOrphaned(server, 0, 'echo server');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();

/**
 * The floor: a bare grpc-js server with one unary method that returns its
 * request bytes, no proto decoding, no logging, no middleware. Run as its own
 * process (like the services), it prints `PORT <n>` once it listens.
 */
import * as grpc from '@grpc/grpc-js';
import { pathToFileURL } from 'node:url';

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
  process.on('SIGTERM', () => server.forceShutdown());
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();

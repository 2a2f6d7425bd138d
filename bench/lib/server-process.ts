/**
 * The bench's own gRPC servers (the bare echo, the stand-in primary) run as
 * processes of their own, like the services, so their CPU is measured apart
 * from the load generator's. Each prints `PORT <n>` once it listens, and has
 * its stdin as a pipe from the process that started it: when that process
 * ends, however it ends, the pipe closes and the server exits. No server is
 * left behind by a bench that fails or is killed.
 */
import * as grpc from '@grpc/grpc-js';
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';

const identity = (b: Buffer) => b;

/** A unary method on raw bytes: neither side decodes or encodes anything. */
export function rawMethod(path: string): grpc.MethodDefinition<Buffer, Buffer> {
  return { path, requestStream: false, responseStream: false, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity };
}

export interface ServerProcess {
  address: string;
  pid: number;
  stop(): void;
}

/**
 * The number a child announces as `<tag> <n>` on `stream` (its stdout or
 * stderr); rejects if the child exits first.
 */
export function announced(child: ChildProcess, stream: Readable, tag: string, label: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    let buf = '';
    const pattern = new RegExp(`${tag} (\\d+)`);
    stream.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = buf.match(pattern);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`${label} exited (${code})${buf ? `: ${buf.trim().slice(-300)}` : ''}`)));
  });
}

/** Starts the module at `moduleUrl` (its main calls `serveUntilOrphaned`); resolves once it listens. */
export async function startServerProcess(moduleUrl: string, args: string[], label: string): Promise<ServerProcess> {
  const child = spawn(process.execPath, [fileURLToPath(moduleUrl), ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  const port = await announced(child, child.stdout!, 'PORT', label);
  return { address: `127.0.0.1:${port}`, pid: child.pid!, stop: () => child.kill('SIGTERM') };
}

/**
 * The server side: binds 127.0.0.1:`port` (0: any), prints `PORT <n>`, and
 * exits on SIGTERM or once stdin ends (the parent is gone).
 */
export function serveUntilOrphaned(server: grpc.Server, port: number, label: string): void {
  server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, bound) => {
    if (err) {
      console.error(`${label}: cannot listen on 127.0.0.1:${port}: ${err.message}`);
      process.exit(1);
    }
    process.stdout.write(`PORT ${bound}\n`);
  });
  const exit = () => {
    server.forceShutdown();
    process.exit(0);
  };
  process.on('SIGTERM', exit);
  process.stdin.on('end', exit).resume();
}

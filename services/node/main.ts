// What LiteFS execs on each node (deploy/litefs/nodeN.yml): runs the auth and enroll
// services side by side, as child processes that inherit this environment and stdio
// (env.ts: the auth service also gets its thread pool size, and only it keeps the auth
// secrets).
//
// Lifecycle, so that LiteFS (and through it foreman) always notices trouble:
// - SIGINT/SIGTERM (LiteFS forwards its own on shutdown): SIGTERM both services, wait for
//   them, SIGKILL any still running after STOP_TIMEOUT_MS, then exit 0.
// - either service exits on its own: stop the other the same way, then exit non-zero, so
//   LiteFS shuts the node down and foreman stops the cluster.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { serviceEnv } from './env.js';

/** How long a service gets to drain after SIGTERM before it is killed. */
const STOP_TIMEOUT_MS = 10_000;

// Resolved against this file's compiled location: dist/services/node/main.js.
const SERVICES = {
  auth: fileURLToPath(new URL('../auth/main.js', import.meta.url)),
  enroll: fileURLToPath(new URL('../enroll/main.js', import.meta.url)),
};

const tag = `node[${process.env.NODE_NAME ?? '?'}]`;
const children = new Map<string, ChildProcess>();
let stopping = false;

// Extra node flags for the services, e.g. SERVICE_NODE_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof"
// to profile them (node refuses such flags in NODE_OPTIONS).
const NODE_FLAGS = (process.env.SERVICE_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean);

function startService(name: string, script: string): void {
  const child = spawn(process.execPath, [...NODE_FLAGS, script], { env: serviceEnv(name, process.env), stdio: 'inherit' });
  children.set(name, child);
  child.on('error', (err) => {
    // Never spawned, so no 'exit' will follow.
    children.delete(name);
    console.error(`${tag}: cannot start ${name}: ${err.message}`);
    void shutdown(1);
  });
  child.on('exit', (code, signal) => {
    children.delete(name);
    if (stopping) return;
    console.error(`${tag}: ${name} exited unexpectedly (${signal ?? `code ${code}`}); stopping the node`);
    void shutdown(1);
  });
}

/** Stops every running service (SIGTERM, then SIGKILL after the timeout) and exits. */
async function shutdown(exitCode: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  const running = [...children.values()];
  const exited = running.map(
    (child) => new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
    }),
  );
  for (const child of running) child.kill('SIGTERM');
  const timer = setTimeout(() => {
    for (const child of children.values()) {
      console.error(`${tag}: service pid ${child.pid} still running after ${STOP_TIMEOUT_MS} ms: SIGKILL`);
      child.kill('SIGKILL');
    }
  }, STOP_TIMEOUT_MS);
  await Promise.all(exited);
  clearTimeout(timer);
  process.exit(exitCode);
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => void shutdown(0));
}
for (const [name, script] of Object.entries(SERVICES)) startService(name, script);

/**
 * `npm start` exactly as the README gives it: foreman brings up three LiteFS
 * nodes and Envoy from the Procfile, the cluster answers through Envoy, and
 * Ctrl-C (SIGINT to foreman) stops everything and unmounts every node.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { REPO_DIR, waitUntil } from '../harness/cluster.js';
import { http } from '../support/clients.js';
import { runStatus } from '../support/status.js';

const clusterDir = join(REPO_DIR, 'var/test-runs', `npm-start-${process.pid}`);

/** The registrar `npm start` generated, as the README tells a user to find it. */
function generatedRegistrar(): { username: string; password: string } | undefined {
  let text: string;
  try {
    text = readFileSync(join(clusterDir, 'secrets/registrar.env'), 'utf8');
  } catch {
    return undefined;
  }
  const value = (name: string) => text.match(new RegExp(`^${name}=(.*)$`, 'm'))?.[1];
  const username = value('REGISTRAR_USERNAME');
  const password = value('REGISTRAR_PASSWORD');
  return username && password ? { username, password } : undefined;
}

function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[1] ?? '')
    .filter((mount) => mount.startsWith(dir));
}

/** Processes started for this cluster: they inherit CLUSTER_DIR from npm start. */
function clusterProcesses(): number[] {
  const mark = `CLUSTER_DIR=${clusterDir}\0`;
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/environ`, 'latin1').includes(mark)) pids.push(Number(entry));
    } catch {
      /* gone, or not ours to read */
    }
  }
  return pids;
}

function exited(child: ChildProcess, timeoutMs: number): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`npm start did not stop within ${timeoutMs} ms`)), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

describe('npm start', () => {
  let child: ChildProcess | undefined;

  after(() => {
    // Whatever happened above: no process group and no mount outlives the test.
    if (child?.pid && child.exitCode === null) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    for (const pid of clusterProcesses()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    for (const mount of mountsUnder(clusterDir)) spawnSync('fusermount3', ['-uz', mount]);
  });

  test('brings the cluster up through foreman, and Ctrl-C takes it down cleanly', async () => {
    mkdirSync(clusterDir, { recursive: true });
    const log = openSync(join(clusterDir, 'npm-start.log'), 'a');
    child = spawn('npm', ['start'], {
      cwd: REPO_DIR,
      detached: true, // its own process group, like a terminal's foreground job
      stdio: ['ignore', log, log],
      env: { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('REGISTRAR_'))), CLUSTER_DIR: clusterDir },
    });

    // The Procfile's `ready` process says when a user can start: from then on the
    // first login and the first call with its token must work, with no retry.
    const startLog = () => readFileSync(join(clusterDir, 'npm-start.log'), 'utf8');
    await waitUntil(
      () => {
        if (child!.exitCode !== null) throw new Error(`npm start exited with ${child!.exitCode}: ${startLog().slice(-2000)}`);
        return /ready: the cluster answers on http:\/\/127\.0\.0\.1:8080/.test(startLog());
      },
      120_000,
      { what: 'npm start to say the cluster is ready', intervalMs: 200 },
    );
    const login = await http('POST', '/login', { body: generatedRegistrar()! });
    assert.equal(login.status, 200, login.text);
    const token = login.body.access_token as string;
    const probe = await http('GET', '/departments', { token });
    assert.equal(probe.status, 200, `a protected call right after the ready line: ${probe.text}`);
    assert.equal(mountsUnder(clusterDir).length, 3, 'three LiteFS mounts');
    // The generated password is read from its file by the auth service alone: no process of
    // the cluster (foreman, LiteFS, the supervisors, the services, Envoy) has it in its environment.
    const password = generatedRegistrar()!.password;
    const holders = clusterProcesses().filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/environ`, 'latin1').includes(password);
      } catch {
        return false;
      }
    });
    assert.ok(clusterProcesses().length >= 11, `the cluster's processes are found: ${clusterProcesses().length}`);
    assert.deepEqual(holders, [], 'processes with the registrar password in their environment');
    const dept = await http('POST', '/departments', { token, body: { name: 'Procfile Studies' } });
    assert.equal(dept.status, 200, dept.text);
    await waitUntil(async () => (await http('GET', '/departments', { token })).body?.departments?.length === 1, 10_000, { what: 'the write on every node' });
    // `npm run status`, as the README gives it: each node in its role, Envoy routing to each.
    const status = await runStatus();
    assert.equal(status.code, 0, status.stdout + status.stderr);
    assert.match(status.stdout, /^node1 +primary +- +SERVING writes, txid \d+ +SERVING writes, txid \d+$/m);
    for (const n of [2, 3]) assert.match(status.stdout, new RegExp(`^node${n} +replica of node1 +\\d+\\.\\d+ s +SERVING reads, txid \\d+ +SERVING reads`, 'm'));
    assert.match(status.stdout, /^envoy +auth +primary: node1 +replicas: node2, node3 +all: node1, node2, node3$/m);
    assert.match(status.stdout, /^ +jwks +from node1, node2, node3$/m);
    assert.match(status.stdout, /\nstatus: ok\n$/);

    process.kill(-child.pid!, 'SIGINT');
    await exited(child, 60_000);
    await waitUntil(() => mountsUnder(clusterDir).length === 0, 10_000, { what: 'the mounts to go' });
    await waitUntil(() => clusterProcesses().length === 0, 10_000, { what: 'every process of the cluster to exit' });
    const stopped = await runStatus();
    assert.equal(stopped.code, 1, 'status exits 1 with the cluster stopped');
    assert.match(stopped.stdout, /^status: \d+ problems\n {2}- no node is the LiteFS primary: writes are unavailable\n {2}- node1: LiteFS does not answer\n/m);

    // That each service drains and logs "stopped" is checked in the replication test,
    // on the harness's own log files: foreman (0.87) exits as soon as its last child
    // has, without reading what is still in its output pipes, so the final lines of a
    // node can be missing from foreman's output (seen once in CI).
  });
});

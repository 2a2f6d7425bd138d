/**
 * A control for the HTTP/JSON write target: the product's own Envoy, started
 * by `scripts/envoy.sh` with `deploy/envoy/envoy.yaml` unchanged, in front of
 * a stand-in for the enrollment primary that does no work.
 *
 * The stand-in answers CreateEnrollment and DropUserEnrollment with the bytes
 * of a fixed answer (decoding nothing, like the bare echo of 01-floor), and
 * every health check, the role checks included, with SERVING. A JWKS server in
 * this process publishes a key made here on the port Envoy fetches its keys
 * from, and the load signs its tokens with it (the auth service's own signing
 * function). So Envoy does everything it does for a real write: it strips the
 * forged headers, transcodes the same JSON, verifies an RS256 token, checks the
 * same RBAC rules, routes by the same role health checks, logs the access line,
 * and transcodes the answer back. What the stand-in reaches is what any
 * enrollment service could reach through this Envoy and this HTTP client on
 * this machine: the product's share of the target is what is left between it
 * and the real writes.
 *
 * It binds the cluster's fixed ports (Envoy 8080 and 9901, JWKS 7111, primary
 * 7201), so it runs only while no cluster does: 01-floor, before any cluster
 * starts, under the bench's cluster lock.
 */
import * as grpc from '@grpc/grpc-js';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, openSync, closeSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadProto } from '../../lib/grpc/proto.js';
import { generateSigningKey, KEK_BYTES } from '../../services/auth/domain/keys.js';
import { publishedJwk } from '../../services/auth/domain/keyring.js';
import { AUDIENCE, ISSUER } from '../../services/auth/domain/testkit.js';
import { signAccessToken } from '../../services/auth/domain/tokens.js';
import { ENVOY_PORT, REPO_DIR, nodeInfo } from '../../test/harness/cluster.js';
import type { Person } from '../../test/support/school.js';
import { HttpJson } from './rpc.js';
import { announced, rawMethod, serveUntilOrphaned, startServerProcess, type ServerProcess } from './server-process.js';

/** The section every stand-in write names (the answers carry it too). */
export const STAND_IN_SECTION = 17;
/** The issuer and audience deploy/envoy/envoy.yaml's jwt_authn provider accepts: scripts/cluster-env.sh's defaults. */
const TOKEN_SETTINGS = { issuer: ISSUER, audience: AUDIENCE };

const ENROLL = '/enroll.v1.EnrollService/';
const HEALTH_CHECK = '/grpc.health.v1.Health/Check';
/** grpc.health.v1.HealthCheckResponse { status: SERVING }: field 1, varint 1. */
const SERVING = Buffer.from([0x08, 0x01]);

/** The answers a real primary gives the bench's enroll/drop writes, encoded once with the product's proto. */
export function standInAnswers(): { create: Buffer; drop: Buffer } {
  const def = loadProto('enroll/v1/enroll.proto').packageDefinition['enroll.v1.EnrollService'] as grpc.ServiceDefinition;
  return {
    create: def.CreateEnrollment!.responseSerialize({ user_id: 100_001, section_id: STAND_IN_SECTION, status: 'enrolled', position: 0 }),
    drop: def.DropUserEnrollment!.responseSerialize({ user_id: 100_001, section_id: STAND_IN_SECTION, promoted_user_ids: [] }),
  };
}

/** The stand-in's methods, on raw bytes. */
export const STAND_IN_SERVICE: grpc.ServiceDefinition = {
  CreateEnrollment: rawMethod(`${ENROLL}CreateEnrollment`),
  DropUserEnrollment: rawMethod(`${ENROLL}DropUserEnrollment`),
  Check: rawMethod(HEALTH_CHECK),
};

/** Starts the stand-in primary as a process of its own on `port` (0: any); resolves once it listens. */
export function startStandInPrimary(port: number): Promise<ServerProcess> {
  return startServerProcess(import.meta.url, [String(port)], 'stand-in primary');
}

/** The product's Envoy in front of the stand-in, ready for writes. */
export interface StandInFront {
  /** Envoy's listener, for HttpJson / httpVia. */
  readonly url: string;
  /** Students the writes act as: ids and tokens Envoy accepts (signed with the key the JWKS publishes). */
  readonly students: Person[];
  /** The processes a row's CPU figures should name. */
  readonly procs: { pid: number; name: string }[];
  stop(): Promise<void>;
}

/**
 * Starts the JWKS server, the stand-in primary and Envoy (`scripts/envoy.sh`,
 * output in `dir`/envoy.log), and waits until a write goes through. Stops
 * whatever it started if that fails.
 */
export async function startStandInFront(dir: string, studentCount: number): Promise<StandInFront> {
  mkdirSync(dir, { recursive: true });
  // A key made by the auth service's own generator (its sealed copy is not needed here).
  const key = await generateSigningKey(randomBytes(KEK_BYTES));
  const jwks = JSON.stringify({ keys: [publishedJwk(key.keyId, key.publicJwk)] });
  const started: { stop(): Promise<void> | void }[] = [];
  const stopAll = async () => {
    for (const s of started.reverse()) await s.stop();
  };
  // Node 1's ports, where Envoy's config looks for its JWKS and its primary.
  const portOf = (addr: string) => Number(addr.slice(addr.lastIndexOf(':') + 1));
  const node1 = nodeInfo(1, dir);
  try {
    const jwksServer = await serveJwks(jwks, portOf(node1.authJwks));
    started.push({ stop: () => new Promise<void>((r) => jwksServer.close(() => r())) });
    const primary = await startStandInPrimary(portOf(node1.enrollGrpc));
    started.push(primary);
    const envoy = await startEnvoy(dir);
    started.push(envoy);

    const now = Math.floor(Date.now() / 1000);
    const students: Person[] = Array.from({ length: studentCount }, (_, i) => {
      const id = 100_001 + i;
      const who = { userId: id, username: `stand-in-${id}`, roles: ['student'] };
      return { id, username: who.username, password: '', token: signAccessToken(key, who, { iat: now, exp: now + 3600 }, TOKEN_SETTINGS) };
    });
    const url = `http://127.0.0.1:${ENVOY_PORT}`;
    await firstWrite(url, students[0]!, envoy);
    return {
      url,
      students,
      procs: [{ pid: envoy.pid, name: 'envoy' }, { pid: primary.pid, name: 'stand-in' }],
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** The auth service's JWKS side port, as Envoy's `auth_jwks` cluster sees it: the keys, and /healthz. */
function serveJwks(body: string, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url === '/.well-known/jwks.json') res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    else if (req.url === '/healthz') res.writeHead(200).end('ok');
    else res.writeHead(404).end();
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

/**
 * `scripts/envoy.sh` under a small shell that reads its stdin, a pipe from this
 * process: when the pipe closes (stop(), or this process dying) it stops Envoy.
 * Envoy's pid is the one the shell prints (envoy.sh execs Envoy); Envoy's own
 * output, access lines and warnings, goes to the log.
 */
async function startEnvoy(dir: string): Promise<{ pid: number; child: ChildProcess; stop(): Promise<void> }> {
  const log = openSync(join(dir, 'envoy.log'), 'w');
  const script = 'bash scripts/envoy.sh </dev/null 2>&1 & p=$!; echo "PID $p" >&2; while read -r _; do :; done; kill -TERM "$p" 2>/dev/null; wait "$p"';
  const child = spawn('bash', ['-c', script], {
    cwd: REPO_DIR,
    env: { ...process.env, CLUSTER_DIR: dir },
    stdio: ['pipe', log, 'pipe'],
  });
  closeSync(log);
  const pid = await announced(child, child.stderr!, 'PID', 'envoy wrapper');
  const exited = once(child, 'exit');
  return {
    pid,
    child,
    stop: async () => {
      child.stdin!.end();
      const timer = setTimeout(() => {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }, 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Polls one enroll write through Envoy until it answers 200 (JWKS fetched, primary healthy): up to 30 s. */
async function firstWrite(url: string, s: Person, envoy: { child: ChildProcess }): Promise<void> {
  const http = new HttpJson(url);
  const deadline = Date.now() + 30_000;
  let last = '';
  try {
    while (Date.now() < deadline) {
      if (envoy.child.exitCode !== null) throw new Error(`Envoy exited (${envoy.child.exitCode}) before it answered; see its log`);
      try {
        await http.send('POST', `/users/${s.id}/enrollments`, { token: s.token, body: { section_id: STAND_IN_SECTION } });
        return;
      } catch (err) {
        last = (err as Error).message;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    http.close();
  }
  throw new Error(`the stand-in behind Envoy did not answer a write within 30 s (last: ${last})`);
}

function main(): void {
  const port = Number(process.argv[2] ?? 0);
  const answers = standInAnswers();
  let txid = 0;
  // Each write answers with an x-txid header, as the product's do (a counter: one "commit" per write).
  const reply = (answer: Buffer) => (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
    const md = new grpc.Metadata();
    md.set('x-txid', String(++txid));
    call.sendMetadata(md);
    cb(null, answer);
  };
  const server = new grpc.Server();
  server.addService(STAND_IN_SERVICE, {
    CreateEnrollment: reply(answers.create),
    DropUserEnrollment: reply(answers.drop),
    Check: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, SERVING),
  });
  serveUntilOrphaned(server, port, 'stand-in primary');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();

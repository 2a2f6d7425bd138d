/** What the numbers were measured on: CPU, memory, kernel, and the versions of every moving part. */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { REPO_DIR } from '../../test/harness/cluster.js';
import { threadPoolSize } from '../../services/node/env.js';

export interface Machine {
  cpu: string;
  cores: number;
  memory_gb: number;
  kernel: string;
  virtualization?: string;
  node: string;
  envoy: string;
  litefs: string;
  sqlite: string;
  packages: Record<string, string>;
  uv_threadpool_size: string;
}

function firstLine(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 10_000 });
  const text = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
  return text ? text.split('\n').find((l) => l.trim())!.trim() : `unknown (${r.error?.message ?? `exit ${r.status}`})`;
}

function pkgVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(join(REPO_DIR, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export function machineInfo(): Machine {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = cpuinfo.match(/^model name\s*:\s*(.+)$/m)?.[1]?.trim() ?? cpus()[0]?.model ?? 'unknown';
  const hypervisor = /^flags\s*:.*\bhypervisor\b/m.test(cpuinfo) ? 'virtual machine (hypervisor flag set)' : undefined;
  const db = new Database(':memory:');
  const sqlite = (db.prepare('select sqlite_version() as v').get() as { v: string }).v;
  db.close();
  const bin = (name: string) => process.env[`${name.toUpperCase()}_BIN`] ?? join(REPO_DIR, '.tools', 'bin', name);
  const envoyLine = firstLine(bin('envoy'), ['--version']);
  const envoyVersion = envoyLine.match(/\/(\d+\.\d+\.\d+)\//)?.[1] ?? envoyLine;
  return {
    cpu: model,
    cores: cpus().length,
    memory_gb: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: release(),
    virtualization: hypervisor,
    node: process.version,
    envoy: envoyVersion,
    // `litefs version` prints ", commit=" with nothing after it when built without ldflags.
    litefs: firstLine(bin('litefs'), ['version']).replace(/, commit=$/, ''),
    sqlite,
    packages: Object.fromEntries(['@grpc/grpc-js', 'better-sqlite3', 'argon2', 'jose', 'pino'].map((p) => [p, pkgVersion(p)])),
    uv_threadpool_size: threadPoolSize(process.env),
  };
}

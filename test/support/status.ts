/**
 * `npm run status` (scripts/status.sh) against the running cluster, without
 * blocking this process's event loop (a test may be serving a proxy on it).
 */
import { spawn } from 'node:child_process';
import type { ClusterStatus } from '../../lib/cluster-status.js';
import { REPO_DIR } from '../harness/cluster.js';

export interface StatusRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `npm run -s status -- ARGS` in the repository and collects what it prints. */
export function runStatus(args: string[] = [], env: NodeJS.ProcessEnv = process.env): Promise<StatusRun> {
  return new Promise((resolve, reject) => {
    const child = spawn('npm', ['run', '-s', 'status', '--', ...args], { cwd: REPO_DIR, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The report of `npm run status -- --json`, and its exit code. */
export async function statusReport(): Promise<{ code: number | null; report: ClusterStatus }> {
  const run = await runStatus(['--json']);
  try {
    return { code: run.code, report: JSON.parse(run.stdout) as ClusterStatus };
  } catch {
    throw new Error(`npm run status -- --json printed no report (exit ${run.code}): ${run.stdout.slice(0, 500)} ${run.stderr.slice(0, 500)}`);
  }
}

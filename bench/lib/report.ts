/** Results as JSON and Markdown, and the README's copy of the latest summary. */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Machine } from './machine.js';
import type { Memory } from './procs.js';
import { round } from './stats.js';
import type { Check, Row } from './types.js';

export interface Results {
  started: string;
  finished: string;
  quick: boolean;
  only: string[];
  machine: Machine;
  settings: Record<string, unknown>;
  rows: Row[];
  checks: Check[];
  /** Peak memory of every process, per cluster run (label → processes). */
  memory: Record<string, Memory[]>;
  failures: { scenario: string; mode?: string; error: string }[];
}

export function writeJson(path: string, r: Results): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify(r, null, 2) + '\n');
}

const fmt = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '–' : String(round(v)));

export function markdown(r: Results): string {
  const m = r.machine;
  const out: string[] = [];
  out.push(`Run ${r.started} → ${r.finished}${r.quick ? ' (--quick: small counts, not for comparison)' : ''}${r.only.length ? ` (only ${r.only.join(', ')})` : ''}.`);
  out.push('');
  out.push(`Machine: ${m.cpu}, ${m.cores} cores, ${m.memory_gb} GiB${m.virtualization ? `, ${m.virtualization}` : ''}, Linux ${m.kernel}. ` +
    `Node ${m.node}, Envoy ${m.envoy}, ${m.litefs}, SQLite ${m.sqlite}; ` +
    Object.entries(m.packages).map(([k, v]) => `${k} ${v}`).join(', ') + `; the generator's UV_THREADPOOL_SIZE ${m.uv_threadpool_size}. ` +
    'The load generator is one Node process on the same machine: it competes with the cluster for the same cores.');
  out.push('');
  out.push(`Settings: ${Object.entries(r.settings).map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : v}`).join(', ')}.`);
  out.push('');
  out.push('| scenario | variant | mode | conc. | requests | s | ops/s | p50 ms | p99 ms | errors | notes |');
  out.push('|---|---|---|--:|--:|--:|--:|--:|--:|--:|---|');
  for (const row of r.rows) {
    const variant = row.baseline ? `**baseline:** ${row.variant}` : row.variant;
    out.push(`| ${row.scenario} | ${variant} | ${row.mode ?? ''} | ${row.concurrency ?? ''} | ${row.requests} | ${fmt(row.seconds)} | ${fmt(row.throughput)} | ${fmt(row.p50_ms)} | ${fmt(row.p99_ms)} | ${row.errors} | ${row.notes.replace(/\|/g, '\\|')} |`);
  }
  out.push('');
  out.push('### Targets (ratios measured in this run)');
  out.push('');
  out.push('| target | measured | ratio | goal | met | what bounds it |');
  out.push('|---|---|--:|---|---|---|');
  for (const c of r.checks) {
    out.push(`| ${c.target} | ${c.measured} | ${fmt(c.ratio)} | ${c.goal} | ${c.met ? 'yes' : '**no**'} | ${(c.bound ?? '').replace(/\|/g, '\\|')} |`);
  }
  out.push('');
  out.push('### Peak memory (VmHWM, MiB) per process');
  out.push('');
  const names = [...new Set(Object.values(r.memory).flatMap((ms) => ms.map((x) => x.name)))].sort();
  out.push(`| cluster run | ${names.join(' | ')} |`);
  out.push(`|---|${names.map(() => '--:').join('|')}|`);
  for (const [label, ms] of Object.entries(r.memory)) {
    out.push(`| ${label} | ${names.map((n) => fmt(ms.find((x) => x.name === n)?.vmhwm_mb)).join(' | ')} |`);
  }
  if (r.failures.length) {
    out.push('');
    out.push('### Failures');
    out.push('');
    for (const f of r.failures) out.push(`- ${f.scenario}${f.mode ? ` (${f.mode})` : ''}: ${f.error.replace(/\n/g, ' ').slice(0, 400)}`);
  }
  return out.join('\n') + '\n';
}

const START = '<!-- bench:results:start -->';
const END = '<!-- bench:results:end -->';

/** Replaces the block between the README's markers with the latest summary. */
export function updateReadme(readme: string, md: string): void {
  let text: string;
  try {
    text = readFileSync(readme, 'utf8');
  } catch {
    return;
  }
  const a = text.indexOf(START);
  const b = text.indexOf(END);
  if (a < 0 || b < a) return;
  const block = `${START}\n\n${md}\n![throughput](results/throughput.png)\n![latency](results/latency.png)\n\n${END}`;
  writeFileSync(readme, text.slice(0, a) + block + text.slice(b + END.length));
}

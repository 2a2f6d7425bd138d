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
/** A target's ratio, with its 95 % interval where it has one: "2.15 (1.71–2.9)". */
const ratioCell = (c: Check) => (c.interval ? `${fmt(c.ratio)} (${fmt(c.interval[0])}–${fmt(c.interval[1])})` : fmt(c.ratio));
/** Said under each table of targets that has intervals. */
const INTERVAL_NOTE =
  'In brackets beside a ratio of p99s: its 95 % bootstrap interval, how far the ratio could move on the reads of this run alone (each probe makes a few hundred).';

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
    out.push(`| ${c.target} | ${c.measured} | ${ratioCell(c)} | ${c.goal} | ${c.met ? 'yes' : '**no**'} | ${(c.bound ?? '').replace(/\|/g, '\\|')} |`);
  }
  if (r.checks.some((c) => c.interval)) out.push('', INTERVAL_NOTE);
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

/** bench/README.md's block: the whole of latest.md and the charts. */
export const RESULTS_BLOCK = { start: '<!-- bench:results:start -->', end: '<!-- bench:results:end -->' };

/** The repository README's block: the targets of the latest full run (`readmeSummary`). */
export const SUMMARY_BLOCK = { start: '<!-- bench:summary:start -->', end: '<!-- bench:summary:end -->' };

/**
 * The latest run's targets for the repository README: when and where it ran, and
 * each target's figures and ratio without the long "what bounds it" column
 * (that stays in latest.md).
 */
export function readmeSummary(r: Results): string {
  const m = r.machine;
  const out: string[] = [];
  out.push(`The latest full run, ${r.started.slice(0, 16).replace('T', ' ')} UTC: ${m.cores} cores (${m.cpu}${m.virtualization ? `, ${m.virtualization}` : ''}), ` +
    `Node ${m.node}, Envoy ${m.envoy}, ${m.litefs}; the load generator shares the machine. Ratios are taken within the run.`);
  out.push('');
  out.push('| target | measured | ratio | goal | met |');
  out.push('|---|---|--:|---|---|');
  for (const c of r.checks) out.push(`| ${c.target} | ${c.measured} | ${ratioCell(c)} | ${c.goal} | ${c.met ? 'yes' : '**no**'} |`);
  if (r.checks.some((c) => c.interval)) out.push('', INTERVAL_NOTE);
  const peaks = new Map<string, number>();
  for (const list of Object.values(r.memory)) {
    for (const p of list) {
      const kind = p.name.replace(/@.*/, '');
      peaks.set(kind, Math.max(peaks.get(kind) ?? 0, p.vmhwm_mb));
    }
  }
  if (peaks.size > 0) {
    out.push('');
    out.push(`Peak memory (VmHWM, the largest of its kind): ${[...peaks].map(([k, v]) => `${k} ${Math.round(v)} MiB`).join(', ')}.`);
  }
  return out.join('\n') + '\n';
}

/**
 * Replaces the block between `markers` in `file` with `content` (a blank line on
 * each side of it); a file without them is left as is.
 */
export function updateBlock(file: string, markers: { start: string; end: string }, content: string): void {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return;
  }
  const a = text.indexOf(markers.start);
  const b = text.indexOf(markers.end);
  if (a < 0 || b < a) return;
  writeFileSync(file, `${text.slice(0, a)}${markers.start}\n\n${content}\n${markers.end}${text.slice(b + markers.end.length)}`);
}

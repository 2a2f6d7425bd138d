// The benchmark runner's README blocks: a full run rewrites only what lies
// between its markers, and the README's summary states each target as measured.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readmeSummary, SUMMARY_BLOCK, updateBlock, type Results } from './report.js';

function results(): Results {
  return {
    started: '2026-12-04T12:18:09.219Z',
    finished: '2026-12-04T12:27:31.769Z',
    quick: false,
    only: [],
    machine: {
      cpu: 'Test CPU', cores: 2, memory_gb: 8, kernel: '6.1', node: 'v20', envoy: '1.40.0', litefs: 'LiteFS v0.5.14',
      sqlite: '3.53', packages: {}, uv_threadpool_size: '4',
    },
    settings: {},
    rows: [],
    checks: [
      { target: 'rush ≥ 10 × single', measured: '1553 / 430.7 ops/s', ratio: 3.606, goal: '>= 10', met: false, bound: 'CPU | per op' },
      { target: 'forwarded ≥ 0.7 × primary', measured: '2651 / 3269 ops/s', ratio: 0.811, goal: '>= 0.7', met: true },
      { target: 'catalogue p99 ≤ 2 × idle', measured: '12.81 / 5.957 ms p99', ratio: 2.1504, interval: [1.4123, 3.3], goal: '<= 2', met: false },
    ],
    memory: {
      'cluster WRITE_MODE=batch': [
        { name: 'enroll@node1', pid: 1, vmhwm_mb: 245, vmrss_mb: 200 },
        { name: 'enroll@node2', pid: 2, vmhwm_mb: 228.4, vmrss_mb: 200 },
      ],
      'cluster WRITE_MODE=single': [{ name: 'enroll@node1', pid: 3, vmhwm_mb: 157.1, vmrss_mb: 100 }],
    },
    failures: [],
  };
}

test('the README summary gives each target with its figures, ratio and verdict, and the largest peak memory of each kind', () => {
  const md = readmeSummary(results());
  assert.match(md, /^The latest full run, 2026-12-04 12:18 UTC: 2 cores \(Test CPU\)/);
  assert.ok(md.includes('| rush ≥ 10 × single | 1553 / 430.7 ops/s | 3.606 | >= 10 | **no** |'), md);
  assert.ok(md.includes('| forwarded ≥ 0.7 × primary | 2651 / 3269 ops/s | 0.811 | >= 0.7 | yes |'), md);
  // A ratio of p99s carries its interval, and the table says what the brackets are.
  assert.ok(md.includes('| catalogue p99 ≤ 2 × idle | 12.81 / 5.957 ms p99 | 2.15 (1.412–3.3) | <= 2 | **no** |'), md);
  assert.match(md, /In brackets beside a ratio of p99s: its 95 % bootstrap interval/);
  // The bound (and its pipe) stays in latest.md: a stray "|" would break the table.
  assert.ok(!md.includes('per op'), md);
  assert.ok(md.includes('enroll 245 MiB'), md);
});

test('updateBlock replaces what lies between the markers and nothing else; a file without them is left as is', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-report-'));
  try {
    const file = join(dir, 'README.md');
    const before = `# Title\n\nintro\n\n${SUMMARY_BLOCK.start}\n\nold table\n${SUMMARY_BLOCK.end}\n\nafter\n`;
    writeFileSync(file, before);
    updateBlock(file, SUMMARY_BLOCK, 'new table\n');
    assert.equal(readFileSync(file, 'utf8'), `# Title\n\nintro\n\n${SUMMARY_BLOCK.start}\n\nnew table\n\n${SUMMARY_BLOCK.end}\n\nafter\n`);
    updateBlock(file, SUMMARY_BLOCK, 'newer table\n');
    assert.ok(readFileSync(file, 'utf8').includes(`${SUMMARY_BLOCK.start}\n\nnewer table\n\n${SUMMARY_BLOCK.end}\n\nafter`));

    const plain = join(dir, 'plain.md');
    writeFileSync(plain, 'no markers here\n');
    updateBlock(plain, SUMMARY_BLOCK, 'table\n');
    assert.equal(readFileSync(plain, 'utf8'), 'no markers here\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * What a service says it started with. Each service logs one "starting" line
 * (lib/grpc/service.ts) with its role and write settings; an end-to-end test
 * that runs the cluster in a non-default mode checks that line, so it cannot
 * pass by quietly testing the default.
 */
import assert from 'node:assert/strict';
import type { Cluster, NodeNumber } from '../harness/cluster.js';

export type Settings = Record<string, unknown>;

/** The settings of each service's last "starting" line in node n's log, by service name. */
export function startupSettings(cluster: Cluster, n: NodeNumber): Map<string, Settings> {
  const found = new Map<string, Settings>();
  for (const entry of cluster.logEntries(`node${n}`)) {
    if (entry.msg === 'starting' && typeof entry.service === 'string') found.set(entry.service, entry);
  }
  return found;
}

/** Asserts that both services on node n logged these settings when they started. */
export function assertStartedWith(cluster: Cluster, n: NodeNumber, expected: Settings): void {
  const settings = startupSettings(cluster, n);
  for (const service of ['auth', 'enroll']) {
    const got = settings.get(service);
    assert.ok(got, `node${n}: ${service} logged no "starting" line`);
    for (const [key, value] of Object.entries(expected)) {
      assert.equal(got[key], value, `node${n}: ${service} started with ${key}=${String(got[key])}, expected ${String(value)}`);
    }
  }
}

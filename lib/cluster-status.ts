/**
 * What `npm run status` reports (scripts/status.ts gathers it): each node's
 * LiteFS role, each service's health, roles, TXID and lag, and which nodes
 * Envoy sends each role's calls to; then what is wrong, in words. Everything
 * here is pure: it judges and prints a snapshot.
 */
import { READY_CLUSTERS } from './cluster-ready.js';

export const SERVICES = ['auth', 'enroll'] as const;
export type ServiceName = (typeof SERVICES)[number];

/** Where Envoy fetches the JWKS from while any node is current (deploy/envoy/envoy.yaml). */
export const JWKS_CLUSTER = 'auth_jwks_current';

/** Each service's own database. */
export const SERVICE_DB: Readonly<Record<ServiceName, string>> = { auth: 'auth.db', enroll: 'enroll.db' };

export interface ServiceView {
  /** The overall gRPC health ("SERVING", "NOT_SERVING"), or "UNREACHABLE". */
  health: string;
  /** It answers SERVING to `role.primary`: Envoy may send it writes. */
  offersWrites: boolean;
  /** It answers SERVING to `role.replica`: Envoy may send it reads. */
  offersReads: boolean;
  /** Its metrics: the TXID of its database (SERVICE_DB) on this node, and how long ago the node last heard from its primary. */
  txid?: number;
  lagSeconds?: number;
}

export interface NodeView {
  name: string;
  /** LiteFS's `/info`; undefined when its API did not answer. */
  litefs?: { isPrimary: boolean; primary?: string };
  services: Record<ServiceName, ServiceView>;
}

export interface EnvoyView {
  /** Envoy's admin answered. */
  reachable: boolean;
  /** For each cluster of READY_CLUSTERS and JWKS_CLUSTER, the nodes Envoy counts healthy in it. */
  healthy: Record<string, string[]>;
  /** Envoy's token check has fetched the JWKS at least once. */
  jwksFetched: boolean;
}

export interface ClusterStatus {
  nodes: NodeView[];
  envoy: EnvoyView;
  /** What is wrong; empty when the cluster is whole. */
  problems: string[];
}

/** The problems of a snapshot, in words; none when every node is up in its role and Envoy routes to each. */
export function assess(nodes: NodeView[], envoy: EnvoyView): string[] {
  const problems: string[] = [];
  const primaries = nodes.filter((n) => n.litefs?.isPrimary).map((n) => n.name);
  if (primaries.length === 0) problems.push('no node is the LiteFS primary: writes are unavailable');
  if (primaries.length > 1) problems.push(`more than one LiteFS primary: ${primaries.join(', ')}`);
  for (const node of nodes) {
    if (!node.litefs) {
      problems.push(`${node.name}: LiteFS does not answer`);
    } else if (!node.litefs.isPrimary && node.litefs.primary === undefined) {
      problems.push(`${node.name}: LiteFS knows no primary (cut off from it, or the primary is down): writes sent to this node fail`);
    }
    for (const name of SERVICES) {
      const svc = node.services[name];
      const where = `${node.name} ${name}`;
      if (svc.health !== 'SERVING') {
        problems.push(`${where}: ${svc.health === 'UNREACHABLE' ? 'does not answer' : svc.health}`);
        continue;
      }
      if (node.litefs?.isPrimary && !svc.offersWrites) problems.push(`${where}: on the primary but not offering writes`);
      if (node.litefs && !node.litefs.isPrimary && !svc.offersReads) {
        const known = svc.lagSeconds !== undefined && svc.lagSeconds >= 0;
        problems.push(`${where}: not offering reads (${known ? `last heard from its primary ${svc.lagSeconds!.toFixed(1)} s ago` : 'its lag is unknown'})`);
      }
    }
  }
  if (!envoy.reachable) {
    problems.push("Envoy's admin does not answer");
  } else {
    for (const [cluster, wanted] of Object.entries(READY_CLUSTERS)) {
      const have = envoy.healthy[cluster]?.length ?? 0;
      if (have < wanted) problems.push(`Envoy: ${cluster} has ${have} of ${wanted} hosts healthy`);
    }
    if (!envoy.jwksFetched) problems.push('Envoy has not fetched the JWKS yet: it refuses every token');
  }
  return problems;
}

/** The report as text: a line per node, Envoy's routing, and the verdict with each problem. */
export function render(status: ClusterStatus): string {
  const rows: string[][] = [['node', 'litefs', 'lag', ...SERVICES]];
  for (const node of status.nodes) {
    const litefs = !node.litefs ? 'down' : node.litefs.isPrimary ? 'primary' : `replica of ${node.litefs.primary ?? '(none)'}`;
    const lags = SERVICES.map((s) => node.services[s].lagSeconds).filter((l): l is number => l !== undefined && l >= 0);
    const lag = node.litefs?.isPrimary ? '-' : lags.length ? `${Math.max(...lags).toFixed(2)} s` : '?';
    const services = SERVICES.map((name) => {
      const svc = node.services[name];
      if (svc.health === 'UNREACHABLE') return 'down';
      const offers = [svc.offersWrites && 'writes', svc.offersReads && 'reads'].filter(Boolean).join('+') || 'no role';
      return `${svc.health} ${offers}, txid ${svc.txid ?? '?'}`;
    });
    rows.push([node.name, litefs, lag, ...services]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const lines = rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd());
  lines.push('');
  if (status.envoy.reachable) {
    // Which nodes Envoy sends each service's writes (primary), reads (replicas) and fallback (all) to.
    const nodesIn = (cluster: string) => status.envoy.healthy[cluster]?.join(', ') || '(none)';
    SERVICES.forEach((name, i) => {
      const label = (i === 0 ? 'envoy' : '').padEnd(7) + name.padEnd(7);
      lines.push(`${label}primary: ${nodesIn(`${name}_primary`)}  replicas: ${nodesIn(`${name}_replica`)}  all: ${nodesIn(`${name}_grpc`)}`);
    });
    const jwks = status.envoy.healthy[JWKS_CLUSTER]?.length ? `from ${nodesIn(JWKS_CLUSTER)}` : 'from any node that serves it (none is current)';
    lines.push(`${''.padEnd(7)}${'jwks'.padEnd(7)}${status.envoy.jwksFetched ? jwks : 'not fetched yet'}`);
  } else {
    lines.push('envoy  down');
  }
  lines.push('');
  if (status.problems.length === 0) lines.push('status: ok');
  else lines.push(`status: ${status.problems.length} problem${status.problems.length === 1 ? '' : 's'}`, ...status.problems.map((p) => `  - ${p}`));
  return lines.join('\n');
}

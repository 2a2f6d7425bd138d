/**
 * `npm run status [-- --json]` (through scripts/status.sh, which sets the
 * cluster's ports): asks every part of the running local cluster how it is
 * and prints the report of lib/cluster-status.ts. Exit 0 when the cluster is
 * whole, 1 when something is wrong (each problem is listed), 2 on a usage error.
 *
 * Everything is asked over the network with a short timeout (LiteFS's API,
 * the services' gRPC health and metrics, Envoy's admin), never through a FUSE
 * mount, so a node that hangs cannot hang the report.
 */
import { assess, JWKS_CLUSTER, render, SERVICE_DB, SERVICES, type ClusterStatus, type EnvoyView, type NodeView, type ServiceName, type ServiceView } from '../lib/cluster-status.js';
import { clusterHosts, fetchText, jwksFetches, READY_CLUSTERS } from '../lib/cluster-ready.js';
import { fetchInfo } from '../lib/litefs.js';
import { healthStatus } from '../lib/grpc/health-client.js';
import { metricSample, scrape } from '../lib/prometheus-text.js';

const TIMEOUT_MS = 1500;
const NODES = [1, 2, 3] as const;

function port(name: string, fallback: number): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value <= 0 || value > 65535) throw new Error(`${name} is not a port: ${process.env[name]}`);
  return value;
}

const addr = (p: number) => `127.0.0.1:${p}`;
const nodeName = (n: number) => `node${n}`;

/** Where node n's parts listen (scripts/cluster-env.sh). */
function nodePorts(n: number) {
  return {
    litefs: port(`LITEFS_PORT_${n}`, 20200 + n),
    auth: { grpc: port(`AUTH_GRPC_PORT_${n}`, 7100 + n), metrics: port(`AUTH_METRICS_PORT_${n}`, 7120 + n), jwks: port(`AUTH_JWKS_PORT_${n}`, 7110 + n) },
    enroll: { grpc: port(`ENROLL_GRPC_PORT_${n}`, 7200 + n), metrics: port(`ENROLL_METRICS_PORT_${n}`, 7220 + n) },
  };
}

const text = (url: string) => fetchText(url, TIMEOUT_MS);

const health = (address: string, service: string) => healthStatus(address, service, TIMEOUT_MS).catch(() => 'UNREACHABLE');

async function serviceView(n: number, name: ServiceName, ports: { grpc: number; metrics: number }): Promise<ServiceView> {
  const [overall, primary, replica, metrics] = await Promise.all([
    health(addr(ports.grpc), ''),
    health(addr(ports.grpc), 'role.primary'),
    health(addr(ports.grpc), 'role.replica'),
    scrape(addr(ports.metrics), TIMEOUT_MS).catch(() => ''),
  ]);
  const labels = { service: name, node: nodeName(n) };
  return {
    health: overall,
    offersWrites: primary === 'SERVING',
    offersReads: replica === 'SERVING',
    txid: metricSample(metrics, 'course_txid', { ...labels, db: SERVICE_DB[name] }),
    lagSeconds: metricSample(metrics, 'course_replica_lag_seconds', labels),
  };
}

async function nodeView(n: number): Promise<NodeView> {
  const ports = nodePorts(n);
  const [info, ...services] = await Promise.all([
    fetchInfo(`http://${addr(ports.litefs)}`, TIMEOUT_MS).catch(() => undefined),
    ...SERVICES.map((name) => serviceView(n, name, ports[name])),
  ]);
  const litefs: NodeView['litefs'] = info && { isPrimary: info.isPrimary, primary: info.primaryHostname };
  return { name: nodeName(n), litefs, services: Object.fromEntries(SERVICES.map((name, i) => [name, services[i]!])) as NodeView['services'] };
}

async function envoyView(): Promise<EnvoyView> {
  const admin = `http://${addr(port('ENVOY_ADMIN_PORT', 9901))}`;
  const [clusters, stats] = await Promise.all([text(`${admin}/clusters`), text(`${admin}/stats?filter=jwks_fetch_success`)]);
  if (clusters === undefined) return { reachable: false, healthy: {}, jwksFetched: false };
  // Envoy names hosts by address; each service port belongs to one node.
  const owner = new Map<string, string>();
  for (const n of NODES) {
    const ports = nodePorts(n);
    for (const name of SERVICES) owner.set(addr(ports[name].grpc), nodeName(n));
    owner.set(addr(ports.auth.jwks), nodeName(n));
  }
  const hosts = clusterHosts(clusters);
  const healthy = Object.fromEntries(
    [...Object.keys(READY_CLUSTERS), JWKS_CLUSTER].map((c) => [c, (hosts.get(c) ?? []).filter((h) => h.healthy).map((h) => owner.get(h.address) ?? h.address)]),
  );
  return { reachable: true, healthy, jwksFetched: jwksFetches(stats ?? '') > 0 };
}

async function main(args: string[]): Promise<number> {
  const json = args.includes('--json');
  if (args.some((a) => a !== '--json')) {
    console.error('usage: npm run status [-- --json]');
    return 2;
  }
  const [nodes, envoy] = await Promise.all([Promise.all(NODES.map(nodeView)), envoyView()]);
  const status: ClusterStatus = { nodes, envoy, problems: assess(nodes, envoy) };
  console.log(json ? JSON.stringify(status, null, 2) : render(status));
  return status.problems.length === 0 ? 0 : 1;
}

process.exitCode = await main(process.argv.slice(2));

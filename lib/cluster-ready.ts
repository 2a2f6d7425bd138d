/**
 * When the local cluster counts as ready for a user (scripts/ready.ts prints
 * it under `npm start`): Envoy sees every node's services healthy in their
 * roles, and it has fetched the auth service's JWKS, so a token is accepted.
 * Until the fetch, Envoy refuses every token with "Jwks remote fetch is
 * failed", although logins already work.
 */

/** The body of a GET of `url`, or undefined when it does not answer 200 within `timeoutMs`. */
export async function fetchText(url: string, timeoutMs = 2_000): Promise<string | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    return res.ok ? await res.text() : undefined;
  } catch {
    return undefined;
  }
}

/** Envoy clusters, and how many of their hosts must be healthy (deploy/envoy/envoy.yaml). */
export const READY_CLUSTERS: Readonly<Record<string, number>> = Object.freeze({
  auth_grpc: 3,
  enroll_grpc: 3,
  auth_primary: 1,
  enroll_primary: 1,
  auth_replica: 2,
  enroll_replica: 2,
});

/** Each cluster's hosts (host:port) and whether Envoy counts each healthy, from the text of Envoy's admin `/clusters`. */
export function clusterHosts(clustersText: string): Map<string, Array<{ address: string; healthy: boolean }>> {
  const hosts = new Map<string, Array<{ address: string; healthy: boolean }>>();
  for (const line of clustersText.split('\n')) {
    const m = /^([\w.-]+)::([^:]+:\d+)::health_flags::(.*)$/.exec(line.trim());
    if (!m) continue;
    const list = hosts.get(m[1]!) ?? [];
    list.push({ address: m[2]!, healthy: m[3] === 'healthy' });
    hosts.set(m[1]!, list);
  }
  return hosts;
}

/** Healthy hosts per cluster, from the text of Envoy's admin `/clusters`. */
export function healthyHosts(clustersText: string): Map<string, number> {
  const healthy = new Map<string, number>();
  for (const [cluster, hosts] of clusterHosts(clustersText)) {
    const count = hosts.filter((h) => h.healthy).length;
    if (count > 0) healthy.set(cluster, count);
  }
  return healthy;
}

/** How many times Envoy's token check has fetched the JWKS, from admin `/stats`. */
export function jwksFetches(statsText: string): number {
  const m = /^http\.[\w-]+\.jwt_authn\.jwks_fetch_success: (\d+)$/m.exec(statsText);
  return m ? Number(m[1]) : 0;
}

/** What the cluster still lacks, in words; empty when it is ready. */
export function readinessGaps(clustersText: string, statsText: string, publishedKeys: number): string[] {
  const gaps: string[] = [];
  const healthy = healthyHosts(clustersText);
  for (const [cluster, wanted] of Object.entries(READY_CLUSTERS)) {
    const have = healthy.get(cluster) ?? 0;
    if (have < wanted) gaps.push(`${cluster}: ${have} of ${wanted} hosts healthy`);
  }
  if (publishedKeys === 0) gaps.push('no signing key in the JWKS yet');
  if (jwksFetches(statsText) === 0) gaps.push("Envoy has not fetched the JWKS yet");
  return gaps;
}

/** The HTTP routes a proto file declares in its google.api.http options. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_DIR } from '../harness/cluster.js';

/**
 * Each route as "VERB /path", with every path variable written `{}`
 * (`delete: "/sections/{section_id}"` → "DELETE /sections/{}"), so that a test's
 * own names for the variables compare equal after `routeShape`.
 */
export function protoHttpRoutes(protoFile: string): string[] {
  const proto = readFileSync(join(REPO_DIR, 'proto', protoFile), 'utf8');
  return [...proto.matchAll(/\b(get|post|put|patch|delete): "([^"]+)"/g)].map(([, verb, path]) => routeShape(`${verb!.toUpperCase()} ${path}`));
}

/** "DELETE /sections/{id}/enrollments/{uid}" → "DELETE /sections/{}/enrollments/{}". */
export function routeShape(route: string): string {
  return route.replace(/\{[^}]*\}/g, '{}');
}

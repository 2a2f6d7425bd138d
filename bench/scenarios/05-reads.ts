/**
 * Reads: the catalogue (ListSections, a page of 50) and one student's
 * enrollments (ListUserEnrollments), on one node (node1's gRPC port, the
 * baseline), spread by the client over the three nodes' gRPC ports, and
 * through Envoy (native gRPC and HTTP/JSON), which sends reads to the two replicas;
 * and the catalogue's full view (names of course, department and instructor)
 * through Envoy over HTTP/JSON.
 */
import { section, type School } from '../../test/support/school.js';
import type { Context, Row } from '../lib/types.js';
import { grpcVia, httpVia, type Via } from '../lib/vias.js';
import { school, students } from '../lib/school.js';
import { replicated } from '../lib/writes.js';
import { CONCURRENCY } from './01-floor.js';

export const name = '05-reads';
export const title = 'reads on one node, over three, and through Envoy';
export const modes = ['batch'] as const;

function roundRobin(name: string, vias: Via[]): Via {
  let i = 0;
  const next = () => vias[i++ % vias.length]!;
  return {
    name,
    enroll: (s, sid) => next().enroll(s, sid),
    drop: (s, sid) => next().drop(s, sid),
    catalogue: (t, n, v) => next().catalogue(t, n, v),
    enrollments: (s) => next().enrollments(s),
    waitlist: (s) => next().waitlist(s),
    close: () => vias.forEach((v) => v.close()),
  };
}

export async function run(ctx: Context): Promise<Row[]> {
  const cluster = ctx.cluster;
  const sc: School = await school(cluster);
  const sectionIds: number[] = [];
  for (let i = 0; i < 50; i++) sectionIds.push(await section(sc, { capacity: 40, waitlist_capacity: 10 }));
  const [student] = await students(cluster, 1);
  const me = student!;
  const enrollVia = grpcVia('node1', cluster.node(1).enrollGrpc);
  for (const sid of sectionIds.slice(0, 6)) await enrollVia.enroll(me, sid);
  enrollVia.close();
  await replicated(cluster);

  const duration = ctx.pick(6_000, 1_500);
  const rows: Row[] = [];
  const targets: Array<{ label: string; make: () => Via; baseline?: boolean }> = [
    { label: 'one node: node1 gRPC', make: () => grpcVia('node1', cluster.node(1).enrollGrpc), baseline: true },
    { label: 'three nodes, client round-robin over gRPC ports', make: () => roundRobin('rr', [1, 2, 3].map((n) => grpcVia(`node${n}`, cluster.node(n as 1 | 2 | 3).enrollGrpc))) },
    { label: 'via Envoy (the two replicas), native gRPC', make: () => grpcVia('envoy-grpc', '127.0.0.1:8080') },
    { label: 'via Envoy (the two replicas), HTTP/JSON', make: () => httpVia('envoy-http') },
  ];
  for (const kind of ['catalogue', 'enrollments'] as const) {
    for (const t of targets) {
      const via = t.make();
      const op = kind === 'catalogue' ? () => via.catalogue(me.token, 50) : () => via.enrollments(me);
      try {
        rows.push(await ctx.measure({
          variant: `${kind === 'catalogue' ? 'catalogue (50 sections)' : "a student's enrollments (6)"}: ${t.label}`,
          baseline: t.baseline, concurrency: CONCURRENCY, durationMs: duration, warmupMs: ctx.pick(500, 200),
        }, op));
      } finally {
        via.close();
      }
    }
  }
  // What the full view (course name, department, instructor) costs a page through Envoy.
  const full = httpVia('envoy-http');
  try {
    rows.push(await ctx.measure({
      variant: 'catalogue (50 sections), full view: via Envoy (the two replicas), HTTP/JSON',
      concurrency: CONCURRENCY, durationMs: duration, warmupMs: ctx.pick(500, 200),
      notes: 'view=full: each section with its course name, department and instructor; compare the basic row above',
    }, () => full.catalogue(me.token, 50, 'full')));
  } finally {
    full.close();
  }
  return rows;
}

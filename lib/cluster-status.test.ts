import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assess, render, type ClusterStatus, type EnvoyView, type NodeView, type ServiceView } from './cluster-status.js';

const serving = (role: 'primary' | 'replica', txid = 7, lagSeconds = role === 'primary' ? 0 : 0.4): ServiceView => ({
  health: 'SERVING',
  offersWrites: role === 'primary',
  offersReads: role === 'replica',
  txid,
  lagSeconds,
});
const down: ServiceView = { health: 'UNREACHABLE', offersWrites: false, offersReads: false };

function node(n: number, role: 'primary' | 'replica'): NodeView {
  return {
    name: `node${n}`,
    litefs: { isPrimary: role === 'primary', primary: 'node1' },
    services: { auth: serving(role), enroll: serving(role) },
  };
}
const whole = (): NodeView[] => [node(1, 'primary'), node(2, 'replica'), node(3, 'replica')];
const routing = (): EnvoyView => ({
  reachable: true,
  jwksFetched: true,
  healthy: {
    auth_grpc: ['node1', 'node2', 'node3'],
    enroll_grpc: ['node1', 'node2', 'node3'],
    auth_primary: ['node1'],
    enroll_primary: ['node1'],
    auth_replica: ['node2', 'node3'],
    enroll_replica: ['node2', 'node3'],
    auth_jwks_current: ['node1', 'node2', 'node3'],
  },
});
const report = (nodes: NodeView[], envoy: EnvoyView): ClusterStatus => ({ nodes, envoy, problems: assess(nodes, envoy) });

test('a whole cluster has no problems, and its report says which node does what', () => {
  const status = report(whole(), routing());
  assert.deepEqual(status.problems, []);
  const text = render(status);
  assert.match(text, /^node1 +primary +- +SERVING writes, txid 7 +SERVING writes, txid 7$/m);
  assert.match(text, /^node2 +replica of node1 +0\.40 s +SERVING reads, txid 7/m);
  assert.match(text, /^envoy +auth +primary: node1 +replicas: node2, node3 +all: node1, node2, node3$/m);
  assert.match(text, /^ +enroll +primary: node1 +replicas: node2, node3/m);
  assert.match(text, /^ +jwks +from node1, node2, node3$/m);
  assert.match(text, /\nstatus: ok$/);
});

test('a node that is down: its LiteFS, its services and the hosts Envoy lacks', () => {
  const nodes = whole();
  nodes[2] = { name: 'node3', services: { auth: down, enroll: down } };
  const envoy = routing();
  envoy.healthy.enroll_replica = ['node2'];
  const problems = assess(nodes, envoy);
  assert.deepEqual(problems, [
    'node3: LiteFS does not answer',
    'node3 auth: does not answer',
    'node3 enroll: does not answer',
    'Envoy: enroll_replica has 1 of 2 hosts healthy',
  ]);
  const text = render({ nodes, envoy, problems });
  assert.match(text, /^node3 +down +\? +down +down$/m);
  assert.match(text, /replicas: node2 +all/);
  assert.match(text, /\nstatus: 4 problems\n  - node3: LiteFS does not answer\n/);
});

test('a replica cut off from its primary: it knows no primary and, past the lag bound, offers no reads', () => {
  const nodes = whole();
  nodes[1] = {
    name: 'node2',
    litefs: { isPrimary: false },
    services: { auth: { ...serving('replica', 5, 6.25), offersReads: false }, enroll: serving('replica', 5, 6.25) },
  };
  const problems = assess(nodes, routing());
  assert.deepEqual(problems, [
    'node2: LiteFS knows no primary (cut off from it, or the primary is down): writes sent to this node fail',
    'node2 auth: not offering reads (last heard from its primary 6.3 s ago)',
  ]);
  assert.match(render({ nodes, envoy: routing(), problems }), /^node2 +replica of \(none\) +6\.25 s +SERVING no role, txid 5/m);
});

test('no primary, two primaries, a primary that offers no writes, a service not serving', () => {
  const none = whole().map((n) => ({ ...n, litefs: { isPrimary: false } }));
  assert.ok(assess(none, routing()).includes('no node is the LiteFS primary: writes are unavailable'));

  const two = whole();
  two[1] = node(2, 'primary');
  assert.ok(assess(two, routing()).includes('more than one LiteFS primary: node1, node2'));

  const quiet = whole();
  quiet[0]!.services.enroll = { ...serving('primary'), offersWrites: false };
  quiet[2]!.services.auth = { ...serving('replica'), health: 'NOT_SERVING' };
  assert.deepEqual(assess(quiet, routing()), ['node1 enroll: on the primary but not offering writes', 'node3 auth: NOT_SERVING']);

  const unknownLag = whole();
  unknownLag[2]!.services.enroll = { ...serving('replica', 7, -1), offersReads: false };
  assert.deepEqual(assess(unknownLag, routing()), ['node3 enroll: not offering reads (its lag is unknown)']);
});

test("Envoy down, or without the JWKS yet", () => {
  const gone: EnvoyView = { reachable: false, healthy: {}, jwksFetched: false };
  assert.deepEqual(assess(whole(), gone), ["Envoy's admin does not answer"]);
  assert.match(render(report(whole(), gone)), /^envoy  down$/m);
  const early = { ...routing(), jwksFetched: false };
  assert.deepEqual(assess(whole(), early), ['Envoy has not fetched the JWKS yet: it refuses every token']);
  assert.match(render(report(whole(), early)), /^ +jwks +not fetched yet$/m);
  const noneCurrent = routing();
  noneCurrent.healthy.auth_jwks_current = [];
  assert.deepEqual(assess(whole(), noneCurrent), [], 'judged by the roles, not here');
  assert.match(render(report(whole(), noneCurrent)), /^ +jwks +from any node that serves it \(none is current\)$/m);
});

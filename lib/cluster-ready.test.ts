import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clusterHosts, healthyHosts, jwksFetches, readinessGaps } from './cluster-ready.js';

// Shaped like Envoy 1.40's admin output (trimmed).
const host = (cluster: string, port: number, flags: string) => `${cluster}::127.0.0.1:${port}::health_flags::${flags}`;
const allUp = [
  ...[7101, 7102, 7103].map((p) => host('auth_grpc', p, 'healthy')),
  ...[7201, 7202, 7203].map((p) => host('enroll_grpc', p, 'healthy')),
  host('auth_primary', 7101, 'healthy'),
  host('auth_primary', 7102, '/failed_active_hc'),
  host('auth_primary', 7103, '/failed_active_hc'),
  host('enroll_primary', 7201, 'healthy'),
  host('auth_replica', 7101, '/failed_active_hc'),
  host('auth_replica', 7102, 'healthy'),
  host('auth_replica', 7103, 'healthy'),
  host('enroll_replica', 7202, 'healthy'),
  host('enroll_replica', 7203, 'healthy'),
  'auth_primary::127.0.0.1:7101::cx_active::2',
].join('\n');
const fetched = 'http.public.jwt_authn.jwks_fetch_failed: 3\nhttp.public.jwt_authn.jwks_fetch_success: 1\n';

test('ready when every role has its healthy hosts, a key is published and Envoy has fetched the JWKS', () => {
  assert.equal(healthyHosts(allUp).get('auth_primary'), 1);
  assert.equal(jwksFetches(fetched), 1);
  assert.deepEqual(readinessGaps(allUp, fetched, 1), []);
});

test('each missing piece is named', () => {
  const replicaDown = allUp.replace(host('enroll_replica', 7203, 'healthy'), host('enroll_replica', 7203, '/failed_active_hc'));
  assert.deepEqual(readinessGaps(replicaDown, fetched, 1), ['enroll_replica: 1 of 2 hosts healthy']);
  assert.deepEqual(readinessGaps(allUp, 'http.public.jwt_authn.jwks_fetch_success: 0\n', 1), ['Envoy has not fetched the JWKS yet']);
  assert.deepEqual(readinessGaps(allUp, fetched, 0), ['no signing key in the JWKS yet']);
  assert.equal(readinessGaps('', '', 0).length, 8);
});

test("each cluster's hosts by address, healthy or not, and nothing from other lines", () => {
  const hosts = clusterHosts(allUp);
  assert.deepEqual(hosts.get('auth_replica'), [
    { address: '127.0.0.1:7101', healthy: false },
    { address: '127.0.0.1:7102', healthy: true },
    { address: '127.0.0.1:7103', healthy: true },
  ]);
  assert.deepEqual(hosts.get('enroll_primary'), [{ address: '127.0.0.1:7201', healthy: true }]);
  assert.equal(hosts.size, 6);
  assert.equal(healthyHosts(allUp).get('auth_replica'), 2);
  assert.equal(healthyHosts(allUp.replace(host('enroll_primary', 7201, 'healthy'), host('enroll_primary', 7201, '/failed_active_hc'))).get('enroll_primary'), undefined);
});

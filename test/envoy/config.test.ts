// Checks deploy/envoy/envoy.yaml with Envoy's own validator (`--mode validate`),
// which builds every listener, filter and cluster without opening sockets: a
// misspelt field, an unknown type, a bad regex or a service missing from
// gen/api.pb all fail it. The binary comes from ENVOY_BIN; gen/api.pb must
// exist (`bash scripts/gen-proto.sh`). Envoy runs from the repository root,
// as in production, because the config's paths are relative to it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { protoHttpRoutes } from '../support/proto-routes.js';

const CONFIG = 'deploy/envoy/envoy.yaml';

// The repository root, found from this file whether it runs as test/envoy/*.ts
// or compiled as dist/test/envoy/*.js.
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, CONFIG))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`${CONFIG} not found above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
  return dir;
}

const root = repoRoot();

function envoyBin(): string {
  const bin = process.env.ENVOY_BIN;
  assert.ok(bin, 'ENVOY_BIN is not set: point it at the envoy binary (see README)');
  assert.ok(existsSync(bin), `ENVOY_BIN=${bin} does not exist`);
  assert.ok(existsSync(join(root, 'gen/api.pb')), 'gen/api.pb is missing: run `bash scripts/gen-proto.sh`');
  return bin;
}

function validate(configPath: string): { status: number | null; output: string } {
  const r = spawnSync(envoyBin(), ['--mode', 'validate', '-c', configPath, '--log-level', 'info'], {
    cwd: root,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

test('envoy.yaml validates cleanly', () => {
  const { status, output } = validate(CONFIG);
  assert.equal(status, 0, output);
  assert.match(output, /configuration '[^']*envoy\.yaml' OK/);
  // Thirteen clusters (per service: every node, the primary, the replicas, and the
  // writes/reads aggregates; plus the JWKS from current nodes, from any node, and
  // their aggregate) and one listener.
  assert.match(output, /loading 13 cluster\(s\)/);
  assert.match(output, /loading 1 listener\(s\)/);
  // Deprecated fields work today and break on an upgrade: keep none.
  assert.doesNotMatch(output, /Deprecated field/, output);
});

test('HTTP filters run in the order the security model depends on', () => {
  // Text, not YAML: the `- name: envoy.filters.http.*` lines of the filter chain.
  const yaml = readFileSync(join(root, CONFIG), 'utf8');
  const order = [...yaml.matchAll(/^\s*- name: (envoy\.filters\.http\.\w+)\s*$/gm)].map((m) => m[1]);
  assert.deepEqual(order, [
    'envoy.filters.http.header_mutation',
    'envoy.filters.http.lua', // before the transcoder: it reads the JSON body the transcoder turns into protobuf
    'envoy.filters.http.grpc_json_transcoder', // before the auth filters: they see gRPC paths
    'envoy.filters.http.local_ratelimit',
    'envoy.filters.http.jwt_authn',
    'envoy.filters.http.rbac',
    'envoy.filters.http.router',
  ]);
});

// The validator is only worth trusting if it can say no: the same config with
// a transcoded service that gen/api.pb does not contain must be rejected.
test('validation fails when the config names a service missing from gen/api.pb', () => {
  const yaml = readFileSync(join(root, CONFIG), 'utf8');
  const broken = yaml.replace('- enroll.v1.EnrollService', '- enroll.v1.NoSuchService');
  assert.notEqual(broken, yaml, 'the transcoder services list changed shape: update this test');
  const dir = mkdtempSync(join(tmpdir(), 'envoy-config-test-'));
  try {
    const path = join(dir, 'envoy.yaml');
    writeFileSync(path, broken);
    const { status, output } = validate(path);
    assert.notEqual(status, 0, output);
    assert.match(output, /NoSuchService/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// A REST path with a verb its proto does not map reaches the router untranscoded
// and must get Envoy's 405, not the catch-all 404, with the verbs it does map
// in Allow: so every path template of the protos has to match a
// method_not_allowed route whose Allow lists exactly that template's verbs.
test('every REST path of the protos has a 405 route for the verbs it lacks, with Allow naming the verbs it has', () => {
  const yaml = readFileSync(join(root, CONFIG), 'utf8');
  const routes = [...yaml.matchAll(/- name: method_not_allowed_\w+\s+match:\s+safe_regex: \{ regex: '([^']+)' \}[\s\S]*?key: allow, value: "([^"]+)"/g)].map((m) => ({
    regex: new RegExp(m[1]!),
    allow: m[2]!,
  }));
  assert.ok(routes.length >= 4, `only ${routes.length} method_not_allowed routes found`);
  const verbs = new Map<string, string[]>();
  for (const proto of ['auth/v1/auth.proto', 'enroll/v1/enroll.proto']) {
    for (const route of protoHttpRoutes(proto)) {
      const [verb, template] = route.split(' ') as [string, string];
      verbs.set(template, [...(verbs.get(template) ?? []), verb]);
    }
  }
  assert.ok(verbs.size > 30, `only ${verbs.size} paths found in the protos`);
  const wrong: string[] = [];
  for (const [template, mapped] of verbs) {
    const expected = [...mapped].sort().join(', ');
    for (const path of [template.replaceAll('{}', '7'), `${template.replaceAll('{}', '7')}/`]) {
      const matching = routes.filter((r) => r.regex.test(path)).map((r) => r.allow);
      if (matching.length !== 1 || matching[0] !== expected) wrong.push(`${path}: Allow ${JSON.stringify(matching)}, the protos map ${expected}`);
    }
  }
  assert.deepEqual(wrong, []);
  // A path the protos do not have matches none: it gets the catch-all 404.
  for (const path of ['/nope', '/users/7/nope', '/departments/7/courses', '/me/7']) {
    assert.deepEqual(routes.filter((r) => r.regex.test(path)).map((r) => r.allow), [], path);
  }
});

// The request-fields filter enforces on the whole body the limit the transcoder applies
// to its buffer; both must name the same limit.
test("the request-fields filter's size limit is the transcoder's max_request_body_size", () => {
  const yaml = readFileSync(join(root, CONFIG), 'utf8');
  const lua = readFileSync(join(root, 'deploy/envoy/request-fields.lua'), 'utf8');
  const transcoder = /^\s*max_request_body_size: (\d+)$/m.exec(yaml)?.[1];
  const filter = /^local MAX_BODY = (\d+)$/m.exec(lua)?.[1];
  assert.ok(transcoder && filter, 'both limits are found');
  assert.equal(filter, transcoder);
});

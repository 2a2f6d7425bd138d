// The Lua filter that checks where the fields of a REST request come from
// (deploy/envoy/request-fields.lua, built into gen/request-fields.lua): a body
// field the request message lacks, a field the path sets given again in the
// body or the query, a body field in the query, a field given twice, a body on
// a route that takes none, a body over 64 KiB. Run by the real Envoy
// (ENVOY_BIN) in front of a direct response: each request either passes (200
// "passed") or gets the filter's 400 or 413. What a passing request then does
// is the transcoder's business (test/e2e covers the whole chain).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { REPO_ROOT } from '../../lib/grpc/proto.js';
import { httpRaw, streamOf } from '../support/clients.js';

const LUA = join(REPO_ROOT, 'gen/request-fields.lua');

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** One listener: the filter in `lua` in front of a direct response. */
const listener = (name: string, port: number, lua: string) => `
    - name: ${name}
      address: { socket_address: { address: 127.0.0.1, port_value: ${port} } }
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: ${name}
                route_config:
                  virtual_hosts:
                    - name: all
                      domains: ["*"]
                      routes:
                        - match: { prefix: "/" }
                          direct_response: { status: 200, body: { inline_string: passed } }
                http_filters:
                  - name: envoy.filters.http.lua
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua
                      default_source_code: { filename: ${JSON.stringify(lua)} }
                  - name: envoy.filters.http.router
                    typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
`;

/** The filter with its body scanner made to fail, as a bug in it would. */
function brokenCopy(lua: string): string {
  const scanner = 'local function firstRefusedKey(text, route)';
  assert.ok(lua.includes(scanner), 'the scanner to break is found');
  return lua.replace(scanner, `${scanner}\n  if text ~= nil then error("broken on purpose") end`);
}

let envoy: ChildProcess | undefined;
let dir = '';
let base = '';
let brokenBase = '';

before(async () => {
  const bin = process.env.ENVOY_BIN;
  assert.ok(bin && existsSync(bin), 'ENVOY_BIN must name the envoy binary (see README)');
  assert.ok(existsSync(LUA), 'gen/request-fields.lua is missing: run `npm run build`');
  const [port, brokenPort] = [await freePort(), await freePort()];
  base = `http://127.0.0.1:${port}`;
  brokenBase = `http://127.0.0.1:${brokenPort}`;
  dir = mkdtempSync(join(tmpdir(), 'request-fields-test-'));
  const broken = join(dir, 'broken.lua');
  writeFileSync(broken, brokenCopy(readFileSync(LUA, 'utf8')));
  writeFileSync(join(dir, 'envoy.yaml'), `static_resources:\n  listeners:${listener('request_fields', port, LUA)}${listener('broken', brokenPort, broken)}`);
  let output = '';
  envoy = spawn(bin, ['-c', join(dir, 'envoy.yaml'), '--disable-hot-restart', '--log-level', 'error'], { stdio: ['ignore', 'pipe', 'pipe'] });
  envoy.stdout!.on('data', (d: Buffer) => (output += d));
  envoy.stderr!.on('data', (d: Buffer) => (output += d));
  for (let waited = 0; ; waited += 100) {
    if (envoy.exitCode !== null) assert.fail(`envoy exited: ${output}`);
    if (await fetch(base, { method: 'GET' }).then(() => true, () => false)) break;
    assert.ok(waited < 15_000, `envoy did not listen within 15 s: ${output}`);
    await sleep(100);
  }
});

after(() => {
  envoy?.kill('SIGKILL');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function send(method: string, path: string, body: string, contentType = 'application/json'): Promise<{ status: number; text: string }> {
  const res = await fetch(base + path, { method, body: body === '' ? undefined : body, headers: { 'content-type': contentType } });
  const text = await res.text();
  // Envoy turns a local reply to a gRPC call, the direct response included, into
  // grpc-status and grpc-message headers with no body.
  return { status: res.status, text: contentType.startsWith('application/grpc') ? (res.headers.get('grpc-message') ?? '') : text };
}

async function passes(method: string, path: string, body: string, contentType?: string): Promise<void> {
  const res = await send(method, path, body, contentType);
  assert.deepEqual(res, { status: 200, text: 'passed' }, `${method} ${path} ${body}`);
}

async function refused(method: string, path: string, body: string, field: string, reason = "no such field in this request's body"): Promise<void> {
  const res = await send(method, path, body);
  assert.equal(res.status, 400, `${method} ${path} ${body}: ${res.text}`);
  assert.deepEqual(JSON.parse(res.text), { code: 3, message: `${field}: ${reason}` }, `${method} ${path} ${body}`);
}

const BY_PATH = 'set by the path; the body must not set it';
const TWICE = 'this field is given more than once';
const QUERY_BY_PATH = 'set by the path; the query must not set it';
const QUERY_IN_BODY = 'a field of the body; the query must not set it';
const QUERY_TWICE = 'this parameter is given more than once';

test("a body with only the request message's fields passes, by proto or JSON names", async () => {
  await passes('POST', '/departments', '{"name":"Physics"}');
  await passes('POST', '/sections', '{"course_id":1,"classroom":"CS102","capacity":30,"waitlist_capacity":15,"day":"Tuesday","begin_time":"19:00","end_time":"21:45","instructor_id":3}');
  await passes('POST', '/sections', '{"courseId":1,"waitlistCapacity":15,"beginTime":"19:00"}');
  await passes('PATCH', '/sections/12', '{"frozen":true}');
  await passes('PUT', '/registration-period', '{"opens_at":"","closesAt":""}');
  await passes('POST', '/users/7/enrollments?x=1', '{"section_id":1,"waive_prerequisites":true}');
  await passes('POST', '/departments', '{}');
  await passes('POST', '/departments', ' \n{ "name" : "Physics" } \n');
});

test('a field the message lacks is refused with 400 naming it, wherever it stands among the others', async () => {
  await refused('POST', '/departments', '{"name":"Physics","extra":1}', 'extra');
  await refused('POST', '/departments', '{"extra":{"name":"x"},"name":"Physics"}', 'extra');
  await refused('POST', '/sections', '{"course_id":1,"waitlist_capasity":15}', 'waitlist_capasity');
  await refused('PATCH', '/sections/12', '{"frozen":true,"capacity":3,"seats":4}', 'seats');
  await refused('PUT', '/registration-period', '{"opens":""}', 'opens');
  await refused('PUT', '/sections/3/enrollments/9/grade', '{"grade":"A","comment":"well done"}', 'comment');
  // The path's query does not hide the route; spaces and every kind of value before the key.
  await refused('POST', '/users/7/enrollments?idempotent=1', ' { "section_id" : 1 , "note" : null } ', 'note');
  await refused('POST', '/courses', '{"name":"a\\"b{[","credits":-1.5e3,"code":"X","department_id":1,"x":true}', 'x');
  await refused('POST', '/register', '{"username":"a","roles":["student",{"a":[1,2]}],"email":"e","role":"registrar"}', 'role');
});

/** Requests a rule refuses, each as [method, path, body, the key the answer names]. */
type Refusals = Array<[method: string, path: string, body: string, key: string]>;

async function allRefused(cases: Refusals, reason: string): Promise<void> {
  for (const [method, path, body, key] of cases) await refused(method, path, body, key, reason);
}

test('a field the path sets is refused in the body, by either name, even with the same value', async () => {
  await allRefused(
    [
      ['PATCH', '/departments/1', '{"department_id":2,"name":"Physics"}', 'department_id'],
      ['PATCH', '/departments/1', '{"name":"Physics","departmentId":1}', 'departmentId'],
      ['PUT', '/sections/3/enrollments/9/grade', '{"grade":"A","user_id":10}', 'user_id'],
      ['POST', '/users/7/enrollments', '{"section_id":1,"userId":8}', 'userId'],
      // A route whose every field is in its path takes only an empty object.
      ['POST', '/users/7/password', '{"user_id":7}', 'user_id'],
      // A trailing slash, which the transcoder ignores, does not hide the route.
      ['PATCH', '/departments/1/', '{"department_id":2}', 'department_id'],
    ],
    BY_PATH,
  );
  await passes('POST', '/users/7/password', '{}');
  // Where the field is not in the path, it is a body field as before.
  await passes('POST', '/sections', '{"course_id":1}');
});

test('a field given twice, by the same name or by its two names, is refused at its second', async () => {
  await allRefused(
    [
      ['POST', '/departments', '{"name":"A","name":"B"}', 'name'],
      ['POST', '/sections', '{"waitlist_capacity":1,"capacity":3,"waitlistCapacity":2}', 'waitlistCapacity'],
      ['PUT', '/registration-period', '{"opensAt":"","closes_at":"","opens_at":""}', 'opens_at'],
    ],
    TWICE,
  );
  await passes('POST', '/sections', '{"waitlist_capacity":1,"capacity":3,"course_id":2}');
});

test('a query parameter for a field the path sets is refused, on every verb, by either name and escaped', async () => {
  await allRefused(
    [
      ['DELETE', '/departments/3?department_id=2', '', 'department_id'],
      ['GET', '/departments/1?departmentId=1', '', 'departmentId'],
      ['GET', '/sections/4?view=full&section_id=5', '', 'section_id'],
      ['DELETE', '/users/7/enrollments/3?user%5Fid=8', '', 'user_id'],
      ['PATCH', '/departments/1?department_id=2', '{"name":"x"}', 'department_id'],
      ['GET', '/users/7/sections?type=enrolled&userId=8', '', 'userId'],
      ['DELETE', '/departments/3/?department_id=2', '', 'department_id'],
    ],
    QUERY_BY_PATH,
  );
  await refused('POST', '/departments/', '{"name":"x","extra":1}', 'extra');
  // The same names are the query's own where the path does not set them.
  await passes('GET', '/sections?department_id=2&instructorId=3&page_size=10', '');
  await passes('GET', '/sections/4?view=full', '');
  await passes('GET', '/sections/4', '');
  await passes('GET', '/auth-logs?user_id=7&outcome=ok', '');
});

test('a query parameter for a field the body carries is refused: with body "*" the body holds every field the path does not', async () => {
  await allRefused(
    [
      ['POST', '/departments?name=Q', '{}', 'name'],
      ['PATCH', '/sections/4?capacity=100', '{"frozen":true}', 'capacity'],
      ['PUT', '/users/7/roles?roles=registrar', '{"roles":["student"]}', 'roles'],
      // POST /auth: the body is the credentials; ?expired is the query's own.
      ['POST', '/auth?credentials.username=eve', '{"username":"ada","password":"p"}', 'credentials.username'],
    ],
    QUERY_IN_BODY,
  );
  await passes('POST', '/auth?expired=true', '{"username":"ada","password":"p"}');
});

test('a query parameter given twice is refused, by the same name or its two names; unknown ones are the transcoder\'s to refuse', async () => {
  await allRefused(
    [
      ['GET', '/sections?day=Monday&day=Friday', '', 'day'],
      ['GET', '/sections?page_size=10&pageSize=20', '', 'pageSize'],
      ['GET', '/courses?query=a+b&query=c', '', 'query'],
    ],
    QUERY_TWICE,
  );
  await passes('GET', '/sections?colour=red&colour=blue', '');
  await passes('GET', '/sections?&&day=Monday&', '');
});

test('a body mapped to one field of the request (POST /auth: body "credentials") is checked against that field\'s message', async () => {
  await passes('POST', '/auth?expired=true', '{"username":"ada","password":"a long password"}');
  await refused('POST', '/auth', '{"username":"ada","password":"p","expired":true}', 'expired');
});

test('keys are compared decoded; the answer quotes at most 64 printable bytes of a key and stays valid JSON', async () => {
  await passes('POST', '/departments', '{"na\\u006de":"Physics"}');
  await refused('POST', '/departments', '{"n\\u00e4me":"Physics"}', 'n?me');
  await refused('POST', '/departments', '{"a\\"\\n\\\\b":1}', 'a???b');
  await refused('POST', '/departments', `{"${'k'.repeat(100)}":1}`, 'k'.repeat(64));
  await refused('POST', '/departments', '{"nämé":1}', 'n??m??');
});

test('what the filter cannot read as a JSON object, and what is not a JSON body on a known route, passes to the transcoder untouched', async () => {
  for (const body of ['name=Physics', '[{"extra":1}]', '"text"', '{"name":"Physics"', '{"name" "Physics","extra":1}', '{"na\\qme":1}', '{"name":"x",,"extra":1}', '']) {
    await passes('POST', '/departments', body);
  }
  await refused('POST', '/departments', JSON.stringify({ name: 'x'.repeat(60_000), extra: 1 }), 'extra');
  await passes('POST', '/no/such/route', '{"extra":1}');
  await passes('GET', '/departments?page_size=3', '');
  await passes('DELETE', '/sections/3', '');
  // A native gRPC call is protobuf, whatever its bytes look like.
  await passes('POST', '/departments', '{"extra":1}', 'application/grpc');
  await passes('POST', '/enroll.v1.EnrollService/CreateDepartment', '{"extra":1}', 'application/grpc+proto');
});

const NO_BODY = 'this request takes no body: its fields go in the path and the query';

/** A request fetch will not send (a GET with a body), answered as status and text. */
async function raw(method: string, path: string, body: string): Promise<{ status: number; text: string }> {
  const { status, text } = await httpRaw(method, path, body, { base });
  return { status, text };
}

test('a body on a GET or a DELETE, whose routes take none, is refused with 400; an empty body or {} passes', async () => {
  // The transcoder alone reads such a body, over the path: this deleted department 2.
  for (const [method, path, body] of [
    ['DELETE', '/departments/3', '{"department_id":2}'],
    ['DELETE', '/users/7/enrollments/3/', '{"user_id":8}'],
    ['GET', '/departments/1', '{"department_id":2}'],
    ['GET', '/sections?day=Monday', '{"day":"Friday"}'],
    ['GET', '/me', '{"user_id":1}'],
    ['GET', '/departments/1', 'not JSON at all'],
    ['GET', '/departments/1', ' '],
    ['GET', '/departments/1', `{${' '.repeat(100)}}`],
  ]) {
    const res = await raw(method!, path!, body!);
    assert.equal(res.status, 400, `${method} ${path} ${body}: ${res.text}`);
    assert.deepEqual(JSON.parse(res.text), { code: 3, message: NO_BODY }, `${method} ${path} ${body}`);
  }
  for (const body of ['', '{}', ' { \n} ']) {
    assert.deepEqual(await raw('GET', '/departments/1', body), { status: 200, text: 'passed' }, JSON.stringify(body));
    assert.deepEqual(await raw('DELETE', '/sections/3?x=1', body), { status: 200, text: 'passed' }, JSON.stringify(body));
  }
  // Sent in chunks, without a length: read, then refused the same way.
  const chunked = await fetch(`${base}/departments/3`, { method: 'DELETE', body: streamOf('{"department_id":', '2}'), duplex: 'half' } as RequestInit);
  assert.deepEqual([chunked.status, await chunked.json()], [400, { code: 3, message: NO_BODY }]);
  // Where no route matches, the 404 is not this filter's.
  assert.deepEqual(await raw('GET', '/no/such/route', '{"a":1}'), { status: 200, text: 'passed' });
});

test('a body over 64 KiB is refused with 413, from its length or, sent in chunks, once read; 64 KiB passes', async () => {
  const over = JSON.stringify({ name: 'x'.repeat(65_536 - 11 + 1) });
  const limit = JSON.stringify({ name: 'x'.repeat(65_536 - 11) });
  assert.deepEqual([over.length, limit.length], [65_537, 65_536]);
  const tooLarge = { status: 413, text: 'the request body must be at most 65536 bytes' };
  assert.deepEqual(await send('POST', '/departments', over), tooLarge);
  assert.deepEqual(await send('POST', '/departments', limit), { status: 200, text: 'passed' });
  // The transcoder's own max_request_body_size bounds its buffer, not the body: a body
  // arriving in small pieces went through it. Here every piece is small.
  const pieces = Array.from({ length: 100 }, () => 'x'.repeat(1000));
  const chunked = await fetch(`${base}/departments`, { method: 'POST', body: streamOf('{"name":"', ...pieces, '"}'), duplex: 'half' } as RequestInit);
  assert.deepEqual({ status: chunked.status, text: await chunked.text() }, tooLarge);
  // A route that takes no body too, and before reading it when the length says so.
  assert.deepEqual(await raw('DELETE', '/departments/3', over), tooLarge);
  assert.deepEqual(await raw('GET', '/departments/1', over), tooLarge);
});

test('a failure in the filter is answered 500, never passed: Envoy alone would let the request through unchecked', async () => {
  const res = await fetch(`${brokenBase}/departments`, { method: 'POST', body: '{"name":"Physics","extra":1}', headers: { 'content-type': 'application/json' } });
  assert.deepEqual([res.status, await res.json()], [500, { code: 13, message: 'internal error' }]);
  // What does not reach the broken part still passes there.
  const read = await fetch(`${brokenBase}/departments/1`);
  assert.deepEqual([read.status, await read.text()], [200, 'passed']);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PackageDefinition } from '@grpc/proto-loader';
import { loadProto } from './grpc/proto.js';
import { jsonName, luaPathPattern, luaRoutesTable, pathVariables, restRoutes } from './envoy-request-fields.js';

test('JSON names are lowerCamel, as protoc writes them', () => {
  assert.equal(jsonName('waitlist_capacity'), 'waitlistCapacity');
  assert.equal(jsonName('name'), 'name');
  assert.equal(jsonName('replacing_section_id'), 'replacingSectionId');
});

test("a path template becomes an anchored Lua pattern: one segment per variable, Lua's magic characters escaped", () => {
  assert.equal(luaPathPattern('/departments'), '^/departments$');
  assert.equal(luaPathPattern('/users/{user_id}/enrollments'), '^/users/[^/]+/enrollments$');
  assert.equal(luaPathPattern('/sections/{section_id}/enrollments/{user_id}/grade'), '^/sections/[^/]+/enrollments/[^/]+/grade$');
  assert.equal(luaPathPattern('/registration-period'), '^/registration%-period$');
  assert.equal(luaPathPattern('/.well-known/jwks.json'), '^/%.well%-known/jwks%.json$');
  assert.equal(luaPathPattern('/v1/{name=shelves/*}/books'), '^/v1/shelves/[^/]+/books$');
  assert.equal(luaPathPattern('/files/{path=**}'), '^/files/.+$');
});

test('the fields a path template sets', () => {
  assert.deepEqual(pathVariables('/departments'), []);
  assert.deepEqual(pathVariables('/sections/{section_id}/enrollments/{user_id}/grade'), ['section_id', 'user_id']);
  assert.deepEqual(pathVariables('/v1/{name=shelves/*}/books'), ['name']);
});

const enroll = () => restRoutes(loadProto('enroll/v1/enroll.proto').packageDefinition, ['enroll.v1.EnrollService']);
const auth = () => restRoutes(loadProto('auth/v1/auth.proto').packageDefinition, ['auth.v1.AuthService']);

test("every REST route of the protos, with the names its body may hold, each mapped to its field's proto name", () => {
  const routes = [...auth(), ...enroll()];
  const find = (verb: string, template: string) => routes.find((r) => r.verb === verb && r.template === template);
  assert.deepEqual(find('POST', '/departments')?.body, { name: 'name' });
  assert.deepEqual(find('POST', '/departments')?.path, []);
  assert.deepEqual(find('POST', '/sections')?.pattern, '^/sections$');
  const sections = find('POST', '/sections')!.body!;
  for (const [name, field] of Object.entries({ course_id: 'course_id', courseId: 'course_id', waitlist_capacity: 'waitlist_capacity', waitlistCapacity: 'waitlist_capacity', instructorId: 'instructor_id' })) {
    assert.equal(sections[name], field, name);
  }
  assert.deepEqual(Object.keys(sections), Object.keys(sections).sort());
  // body: "credentials": the body is that field's message; ?expired is the query's.
  const login = find('POST', '/auth')!;
  assert.deepEqual(login.body, { password: 'password', username: 'username' });
  assert.deepEqual(login.inBody, ['credentials']);
  assert.deepEqual(login.query, { expired: 'expired' });
  // Routes without a body: the query holds every field the path does not set.
  const list = find('GET', '/sections')!;
  assert.equal(list.body, undefined);
  assert.equal(list.query.instructorId, 'instructor_id');
  assert.equal(list.query.page_token, 'page_token');
  assert.deepEqual(find('DELETE', '/sections/{section_id}'), {
    verb: 'DELETE',
    template: '/sections/{section_id}',
    pattern: '^/sections/[^/]+$',
    path: ['sectionId', 'section_id'],
    inBody: [],
    query: {},
  });
  assert.equal(routes.length, 50, routes.map((r) => `${r.verb} ${r.template}`).join(', '));
  assert.equal(routes.filter((r) => r.body !== undefined).length, 20);
  assert.ok(routes.every((r) => (r.body !== undefined) === ['POST', 'PUT', 'PATCH'].includes(r.verb)));
});

test('with body "*", the fields the path sets are in neither the body nor the query, and the query holds nothing', () => {
  const routes = [...auth(), ...enroll()];
  const find = (verb: string, template: string) => routes.find((r) => r.verb === verb && r.template === template)!;
  const patch = find('PATCH', '/departments/{department_id}');
  assert.deepEqual(patch.body, { name: 'name' });
  assert.deepEqual(patch.path, ['departmentId', 'department_id']);
  assert.deepEqual(patch.inBody, ['name']);
  assert.deepEqual(patch.query, {});
  const grade = find('PUT', '/sections/{section_id}/enrollments/{user_id}/grade');
  assert.deepEqual(grade.body, { grade: 'grade' });
  assert.deepEqual(grade.path, ['sectionId', 'section_id', 'userId', 'user_id']);
  const enrol = find('POST', '/users/{user_id}/enrollments');
  assert.equal(enrol.body!.section_id, 'section_id');
  assert.equal(enrol.body!.user_id, undefined);
  // Every route: a field comes from one place only.
  for (const route of routes) {
    for (const name of route.path) {
      assert.equal(route.body?.[name], undefined, `${route.template}: ${name}`);
      assert.equal(route.query[name], undefined, `${route.template}: ${name}`);
    }
    for (const name of route.inBody) assert.equal(route.query[name], undefined, `${route.template}: ${name}`);
  }
});

test('the Lua table lists each verb once, literal templates before ones with variables', () => {
  const lua = luaRoutesTable([...enroll(), ...auth()]);
  assert.match(lua, /^local ROUTES = \{\n {2}DELETE = \{\n/);
  assert.equal(lua.match(/^ {2}POST = \{$/gm)?.length, 1);
  const post = lua.slice(lua.indexOf('  POST = {'), lua.indexOf('  PUT = {'));
  const templates = [...post.matchAll(/-- (\S+)$/gm)].map((m) => m[1]!);
  const firstVariable = templates.findIndex((t) => t.includes('{'));
  assert.ok(firstVariable > 0 && templates.slice(firstVariable).every((t) => t.includes('{')), templates.join(' '));
  assert.ok(
    lua.includes(
      '{ pattern = "^/registration%-period$", path = {}, query = {}, body = { ["closesAt"] = "closes_at", ["closes_at"] = "closes_at", ["opensAt"] = "opens_at", ["opens_at"] = "opens_at" }, inBody = { ["closesAt"] = true, ["closes_at"] = true, ["opensAt"] = true, ["opens_at"] = true } }, -- /registration-period',
    ),
    lua,
  );
  assert.ok(lua.includes('{ pattern = "^/users/[^/]+/password$", path = { ["userId"] = true, ["user_id"] = true }, query = {}, body = {} }, -- /users/{user_id}/password'), lua);
  assert.ok(lua.includes('{ pattern = "^/departments/[^/]+$", path = { ["departmentId"] = true, ["department_id"] = true }, query = {} }, -- /departments/{department_id}'), lua);
});

test('a body holding a message of ours is refused at build time: the filter would not check its keys', () => {
  const field = (name: string, type: string, typeName = '') => ({ name, type, typeName });
  const definition = {
    'x.v1.S': {
      Put: {
        options: { '(google.api.http)': { post: '/things', body: '*' } },
        requestType: { type: { name: 'PutRequest', field: [field('name', 'TYPE_STRING'), field('at', 'TYPE_MESSAGE', '.google.protobuf.Timestamp'), field('inner', 'TYPE_MESSAGE', 'Inner')] } },
      },
    },
  } as unknown as PackageDefinition;
  assert.throws(() => restRoutes(definition, ['x.v1.S']), /"inner", whose keys the filter would not check/);
  assert.throws(() => restRoutes(definition, ['x.v1.Missing']), /service x\.v1\.Missing is not in the package definition/);
});

test('a path that binds a nested field is refused at build time', () => {
  const definition = {
    'x.v1.S': {
      Put: {
        options: { '(google.api.http)': { patch: '/things/{thing.id}', body: '*' } },
        requestType: { type: { name: 'PutRequest', field: [{ name: 'name', type: 'TYPE_STRING', typeName: '' }] } },
      },
    },
  } as unknown as PackageDefinition;
  assert.throws(() => restRoutes(definition, ['x.v1.S']), /binds the nested field "thing\.id"/);
});

test('a repeated or message field the query would set is refused at build time', () => {
  const definition = (field: object) =>
    ({
      'x.v1.S': {
        List: {
          options: { '(google.api.http)': { get: '/things' } },
          requestType: { type: { name: 'ListRequest', field: [{ name: 'page_size', type: 'TYPE_INT32', typeName: '' }, field] } },
        },
      },
    }) as unknown as PackageDefinition;
  assert.throws(() => restRoutes(definition({ name: 'tags', type: 'TYPE_STRING', typeName: '', label: 'LABEL_REPEATED' }), ['x.v1.S']), /"tags" in its query/);
  assert.throws(() => restRoutes(definition({ name: 'filter', type: 'TYPE_MESSAGE', typeName: 'Filter' }), ['x.v1.S']), /"filter" in its query/);
  assert.equal(restRoutes(definition({ name: 'day', type: 'TYPE_STRING', typeName: '' }), ['x.v1.S'])[0]!.query.day, 'day');
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PackageDefinition } from '@grpc/proto-loader';
import { loadProto } from './grpc/proto.js';
import { bodyRoutes, jsonName, luaPathPattern, luaRoutesTable, pathVariables } from './envoy-body-fields.js';

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

const enroll = () => bodyRoutes(loadProto('enroll/v1/enroll.proto').packageDefinition, ['enroll.v1.EnrollService']);
const auth = () => bodyRoutes(loadProto('auth/v1/auth.proto').packageDefinition, ['auth.v1.AuthService']);

test("the protos' routes with a body, each with its message's proto and JSON names; routes without a body are left out", () => {
  const routes = [...auth(), ...enroll()];
  const find = (verb: string, template: string) => routes.find((r) => r.verb === verb && r.template === template);
  assert.deepEqual(find('POST', '/departments')?.fields, { name: 'name' });
  assert.deepEqual(find('POST', '/departments')?.pathFields, []);
  assert.deepEqual(find('POST', '/sections')?.pattern, '^/sections$');
  const sections = find('POST', '/sections')!.fields;
  for (const [name, field] of Object.entries({ course_id: 'course_id', courseId: 'course_id', waitlist_capacity: 'waitlist_capacity', waitlistCapacity: 'waitlist_capacity', instructorId: 'instructor_id' })) {
    assert.equal(sections[name], field, name);
  }
  assert.deepEqual(Object.keys(sections), Object.keys(sections).sort());
  // body: "credentials": the body is that field's message, and ?expired is not in it.
  assert.deepEqual(find('POST', '/auth')?.fields, { password: 'password', username: 'username' });
  assert.equal(find('GET', '/departments'), undefined);
  assert.equal(find('DELETE', '/sections/{section_id}'), undefined);
  assert.equal(routes.length, 20, routes.map((r) => `${r.verb} ${r.template}`).join(', '));
  assert.ok(routes.every((r) => ['POST', 'PUT', 'PATCH'].includes(r.verb)));
});

test('with body "*", the fields the path sets are not body fields but listed apart, by both names', () => {
  const routes = [...auth(), ...enroll()];
  const find = (verb: string, template: string) => routes.find((r) => r.verb === verb && r.template === template)!;
  const patch = find('PATCH', '/departments/{department_id}');
  assert.deepEqual(patch.fields, { name: 'name' });
  assert.deepEqual(patch.pathFields, ['departmentId', 'department_id']);
  const grade = find('PUT', '/sections/{section_id}/enrollments/{user_id}/grade');
  assert.deepEqual(grade.fields, { grade: 'grade' });
  assert.deepEqual(grade.pathFields, ['sectionId', 'section_id', 'userId', 'user_id']);
  const enrol = find('POST', '/users/{user_id}/enrollments');
  assert.equal(enrol.fields.section_id, 'section_id');
  assert.equal(enrol.fields.user_id, undefined);
  // Every path field of every route is out of its body.
  for (const route of routes) {
    for (const name of route.pathFields) assert.equal(route.fields[name], undefined, `${route.template}: ${name}`);
  }
});

test('the Lua table lists each verb once, literal templates before ones with variables', () => {
  const lua = luaRoutesTable([...enroll(), ...auth()]);
  assert.match(lua, /^local ROUTES = \{\n {2}PATCH = \{\n/);
  assert.equal(lua.match(/^ {2}POST = \{$/gm)?.length, 1);
  const post = lua.slice(lua.indexOf('  POST = {'), lua.indexOf('  PUT = {'));
  const templates = [...post.matchAll(/-- (\S+)$/gm)].map((m) => m[1]!);
  const firstVariable = templates.findIndex((t) => t.includes('{'));
  assert.ok(firstVariable > 0 && templates.slice(firstVariable).every((t) => t.includes('{')), templates.join(' '));
  assert.ok(
    lua.includes('{ pattern = "^/registration%-period$", fields = { ["closesAt"] = "closes_at", ["closes_at"] = "closes_at", ["opensAt"] = "opens_at", ["opens_at"] = "opens_at" }, path = {} }, -- /registration-period'),
    lua,
  );
  assert.ok(lua.includes('{ pattern = "^/users/[^/]+/password$", fields = {}, path = { ["userId"] = true, ["user_id"] = true } }, -- /users/{user_id}/password'), lua);
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
  assert.throws(() => bodyRoutes(definition, ['x.v1.S']), /"inner", whose keys the filter would not check/);
  assert.throws(() => bodyRoutes(definition, ['x.v1.Missing']), /service x\.v1\.Missing is not in the package definition/);
});

test('a path that binds a nested field of a body "*" request is refused at build time', () => {
  const definition = {
    'x.v1.S': {
      Put: {
        options: { '(google.api.http)': { patch: '/things/{thing.id}', body: '*' } },
        requestType: { type: { name: 'PutRequest', field: [{ name: 'name', type: 'TYPE_STRING', typeName: '' }] } },
      },
    },
  } as unknown as PackageDefinition;
  assert.throws(() => bodyRoutes(definition, ['x.v1.S']), /binds the nested field "thing\.id"/);
});

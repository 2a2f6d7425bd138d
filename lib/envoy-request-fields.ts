/**
 * Where each field of a REST request may come from, for every route the protos
 * declare, for Envoy's check of REST requests (deploy/envoy/request-fields.lua).
 * Envoy's transcoder fills one request message from the path, the query and the
 * JSON body, and left alone it:
 * - drops a body field the message lacks, without a word;
 * - lets a query parameter or a body field win over the same field of the path,
 *   so `DELETE /departments/3?department_id=2` deleted department 2;
 * - takes a query parameter for a field of a `body: "*"` request, although the
 *   body is meant to hold them all;
 * - takes the last of a field given twice.
 * The filter refuses each of these before the transcoder runs.
 * `scripts/gen-request-fields.ts` writes `gen/request-fields.lua`: the table
 * built here, then the committed filter.
 */
import type { MessageTypeDefinition, PackageDefinition, ServiceDefinition } from '@grpc/proto-loader';

/**
 * One REST route: `pattern` is a Lua pattern for its path. Each field goes by
 * its proto name and its JSON (lowerCamel) name, as the transcoder takes both;
 * maps from a name to the field's proto name are sorted by name.
 */
export interface RestRoute {
  verb: string;
  template: string;
  pattern: string;
  /** The names of the fields the path sets. Sorted. */
  path: string[];
  /** The keys the JSON body may hold; undefined when the route takes no body. */
  body?: Record<string, string>;
  /**
   * The names of the request's fields the body sets, which the query must not:
   * with `body: "*"` every field the path does not set, else the one field the
   * body fills (`body: "credentials"`). Sorted.
   */
  inBody: string[];
  /** The parameters the query may hold: the fields neither the path nor the body sets. */
  query: Record<string, string>;
}

interface HttpRule {
  get?: string;
  put?: string;
  post?: string;
  delete?: string;
  patch?: string;
  body?: string;
  additional_bindings?: HttpRule | HttpRule[];
}

interface FieldDescriptor {
  name: string;
  type: string;
  typeName: string;
  label?: string;
}

const VERBS = ['get', 'put', 'post', 'delete', 'patch'] as const;

/** The JSON name protoc gives a field: each letter after an underscore capitalised, the underscores dropped. */
export function jsonName(protoName: string): string {
  return protoName.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()).replace(/_/g, '');
}

/**
 * A Lua pattern matching exactly the paths of an HTTP rule's template:
 * `/users/{user_id}/enrollments` → `^/users/[^/]+/enrollments$`. A variable
 * matches one segment, or any number with `=**`.
 */
export function luaPathPattern(template: string): string {
  const escape = (literal: string) => literal.replace(/[%^$().[\]*+\-?]/g, (c) => `%${c}`);
  const variable = (spec: string) => {
    const eq = spec.indexOf('=');
    if (eq < 0) return '[^/]+';
    return spec
      .slice(eq + 1)
      .split('/')
      .map((segment) => (segment === '**' ? '.+' : segment === '*' ? '[^/]+' : escape(segment)))
      .join('/');
  };
  const parts = template.split(/(\{[^}]*\})/).map((part) => (part.startsWith('{') ? variable(part.slice(1, -1)) : escape(part)));
  return `^${parts.join('')}$`;
}

/** The fields a path template binds: `/users/{user_id}/holds/{hold_id}` → user_id, hold_id. */
export function pathVariables(template: string): string[] {
  return [...template.matchAll(/\{([^}=]+)(?:=[^}]*)?\}/g)].map((m) => m[1]!);
}

/**
 * The fields of the message `typeName` names from within package `scope`
 * ("auth.v1"): a name starting with "." is absolute; any other is looked up
 * from the innermost enclosing package outwards, as protoc resolves it.
 */
function messageFields(definition: PackageDefinition, typeName: string, scope: string): FieldDescriptor[] {
  const packages = scope.split('.');
  const candidates = typeName.startsWith('.')
    ? [typeName.slice(1)]
    : packages.map((_, i) => [...packages.slice(0, packages.length - i), typeName].join('.')).concat(typeName);
  for (const name of candidates) {
    const type = definition[name] as MessageTypeDefinition<unknown, unknown> | undefined;
    if (type?.format === 'Protocol Buffer 3 DescriptorProto') return (type.type as { field: FieldDescriptor[] }).field;
  }
  throw new Error(`message ${typeName} is not in the package definition`);
}

/** The HTTP rule's bindings: itself and its additional_bindings. */
function bindings(rule: HttpRule): HttpRule[] {
  const extra = rule.additional_bindings === undefined ? [] : [rule.additional_bindings].flat();
  return [rule, ...extra.flatMap(bindings)];
}

/** The field holds a message of ours (not a scalar, not google.protobuf's), whose keys the filter would not see. */
function isOwnMessage(field: FieldDescriptor): boolean {
  return field.type === 'TYPE_MESSAGE' && !/^\.?google\.protobuf\./.test(field.typeName);
}

const bothNames = (name: string) => [name, jsonName(name)];

/** Each field name by its proto and JSON names, once each, sorted. */
const allNames = (names: string[]) => [...new Set(names.flatMap(bothNames))].sort();

/** A field's names, each mapped to its proto name, sorted by name. */
function namesOf(fields: FieldDescriptor[]): Record<string, string> {
  const names = fields.flatMap((f) => bothNames(f.name).map((n) => [n, f.name] as const));
  return Object.fromEntries(names.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** The REST routes of `services` (fully qualified names). */
export function restRoutes(definition: PackageDefinition, services: string[]): RestRoute[] {
  const routes: RestRoute[] = [];
  for (const service of services) {
    const methods = definition[service];
    if (methods === undefined || 'format' in methods) throw new Error(`service ${service} is not in the package definition`);
    for (const method of Object.values(methods as ServiceDefinition)) {
      const rule = (method.options as Record<string, unknown> | undefined)?.['(google.api.http)'] as HttpRule | undefined;
      if (rule === undefined) continue;
      for (const binding of bindings(rule)) {
        const verb = VERBS.find((v) => binding[v] !== undefined);
        if (verb === undefined) throw new Error(`${service}: an HTTP binding without a verb`);
        const template = binding[verb]!;
        const request = method.requestType.type as { name: string; field: FieldDescriptor[] };
        const path = pathVariables(template);
        const dotted = path.find((name) => name.includes('.'));
        if (dotted) throw new Error(`${service}: ${template} binds the nested field "${dotted}", which the filter does not check`);
        const rest = request.field.filter((f) => !path.includes(f.name));

        let body: FieldDescriptor[] | undefined;
        let inBody: FieldDescriptor[] = [];
        let query = rest;
        if (binding.body === '*') {
          body = rest;
          inBody = rest;
          query = [];
        } else if (binding.body) {
          const holder = rest.find((f) => f.name === binding.body);
          if (holder?.type !== 'TYPE_MESSAGE') throw new Error(`${service}: body "${binding.body}" is not a message field of ${request.name}`);
          body = messageFields(definition, holder.typeName, service.slice(0, service.lastIndexOf('.')));
          inBody = [holder];
          query = rest.filter((f) => f !== holder);
        }
        // The filter reads the body's top-level keys and the query's names only: a field holding
        // a message of ours would let its own keys through unchecked, and a repeated query
        // parameter would be refused as given twice. Either has to be thought about first.
        const nested = body?.find(isOwnMessage);
        if (nested) throw new Error(`${service}: ${template} takes a body with the message field "${nested.name}", whose keys the filter would not check`);
        const queried = query.find((f) => isOwnMessage(f) || f.label === 'LABEL_REPEATED');
        if (queried) throw new Error(`${service}: ${template} takes the repeated or message field "${queried.name}" in its query, which the filter does not check`);

        routes.push({
          verb: verb.toUpperCase(),
          template,
          pattern: luaPathPattern(template),
          path: allNames(path),
          ...(body === undefined ? {} : { body: namesOf(body) }),
          inBody: allNames(inBody.map((f) => f.name)),
          query: namesOf(query),
        });
      }
    }
  }
  return routes;
}

/** A Lua string literal for printable ASCII text. */
function luaString(text: string): string {
  if (!/^[ -~]*$/.test(text)) throw new Error(`not printable ASCII: ${JSON.stringify(text)}`);
  return `"${text.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** `{ ["key"] = value, … }`, or `{}`. */
function luaTable(entries: Array<[string, string]>): string {
  return entries.length === 0 ? '{}' : `{ ${entries.map(([key, value]) => `[${luaString(key)}] = ${value}`).join(', ')} }`;
}

/**
 * `local ROUTES = { GET = { { pattern = …, path = { … }, query = { … } }, … }, … }`,
 * one route a line, in the order the filter tries them: for each verb,
 * templates with fewer variables first, so that a literal segment wins over a
 * variable, as in the transcoder. `body` and `inBody` are there only for a
 * route that takes a body.
 */
export function luaRoutesTable(routes: RestRoute[]): string {
  const variables = (template: string) => (template.match(/\{/g) ?? []).length;
  routes = [...routes].sort((a, b) => a.verb.localeCompare(b.verb) || variables(a.template) - variables(b.template) || a.template.localeCompare(b.template));
  const names = (map: Record<string, string>) => luaTable(Object.entries(map).map(([name, field]) => [name, luaString(field)]));
  const set = (list: string[]) => luaTable(list.map((name) => [name, 'true']));
  const lines = ['local ROUTES = {'];
  for (const verb of [...new Set(routes.map((r) => r.verb))]) {
    lines.push(`  ${verb} = {`);
    for (const route of routes.filter((r) => r.verb === verb)) {
      const parts = [`pattern = ${luaString(route.pattern)}`, `path = ${set(route.path)}`, `query = ${names(route.query)}`];
      if (route.body !== undefined) parts.push(`body = ${names(route.body)}`);
      if (route.inBody.length > 0) parts.push(`inBody = ${set(route.inBody)}`);
      lines.push(`    { ${parts.join(', ')} }, -- ${route.template}`);
    }
    lines.push('  },');
  }
  lines.push('}');
  return lines.join('\n');
}

/**
 * The body fields of each REST route the protos declare, for Envoy's check of
 * JSON bodies (deploy/envoy/body-fields.lua): the transcoder silently drops a
 * body field its request message lacks, so Envoy refuses one itself, before it
 * transcodes. It also refuses a body that sets a field the path already sets:
 * the transcoder would let the body's proto-named field win over the path, so
 * `PATCH /departments/1 {"department_id":2}` changed department 2.
 * `scripts/gen-body-fields.ts` writes `gen/body-fields.lua`: the table built
 * here, then the committed filter.
 */
import type { MessageTypeDefinition, PackageDefinition, ServiceDefinition } from '@grpc/proto-loader';

/** One REST route that takes a JSON body: `pattern` is a Lua pattern for its path. */
export interface BodyRoute {
  verb: string;
  template: string;
  pattern: string;
  /**
   * Every name the body may use, mapped to its field's proto name: each field by
   * that name and by its JSON (lowerCamel) name. Sorted by name.
   */
  fields: Record<string, string>;
  /** The names (proto and JSON) of the fields the path sets, which the body must not. Sorted. */
  pathFields: string[];
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

/** The routes of `services` (fully qualified names) that take a body. */
export function bodyRoutes(definition: PackageDefinition, services: string[]): BodyRoute[] {
  const routes: BodyRoute[] = [];
  for (const service of services) {
    const methods = definition[service];
    if (methods === undefined || 'format' in methods) throw new Error(`service ${service} is not in the package definition`);
    for (const method of Object.values(methods as ServiceDefinition)) {
      const rule = (method.options as Record<string, unknown> | undefined)?.['(google.api.http)'] as HttpRule | undefined;
      if (rule === undefined) continue;
      for (const binding of bindings(rule)) {
        if (!binding.body) continue;
        const verb = VERBS.find((v) => binding[v] !== undefined);
        if (verb === undefined) throw new Error(`${service}: an HTTP binding without a verb`);
        const template = binding[verb]!;
        const request = method.requestType.type as { name: string; field: FieldDescriptor[] };
        let fields = request.field;
        if (binding.body !== '*') {
          const holder = fields.find((f) => f.name === binding.body);
          if (holder?.type !== 'TYPE_MESSAGE') throw new Error(`${service}: body "${binding.body}" is not a message field of ${request.name}`);
          fields = messageFields(definition, holder.typeName, service.slice(0, service.lastIndexOf('.')));
        }
        // The filter reads the body's top-level keys only: a field holding a message of ours
        // would let its own keys through unchecked, so it has to be thought about first.
        const nested = fields.find((f) => f.type === 'TYPE_MESSAGE' && !/^\.?google\.protobuf\./.test(f.typeName));
        if (nested) throw new Error(`${service}: ${template} takes a body with the message field "${nested.name}", whose keys the filter would not check`);
        // With body "*" the body and the path fill the same message, and the transcoder lets a
        // body field win over the path's: the body must leave the path's fields alone.
        const bound = binding.body === '*' ? pathVariables(template) : [];
        const dotted = bound.find((name) => name.includes('.'));
        if (dotted) throw new Error(`${service}: ${template} binds the nested field "${dotted}", which the filter does not check`);
        const both = (name: string) => [name, jsonName(name)];
        const names = fields.filter((f) => !bound.includes(f.name)).flatMap((f) => both(f.name).map((n) => [n, f.name] as const));
        routes.push({
          verb: verb.toUpperCase(),
          template,
          pattern: luaPathPattern(template),
          fields: Object.fromEntries(names.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
          pathFields: [...new Set(bound.flatMap(both))].sort(),
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
 * `local ROUTES = { POST = { { pattern = …, fields = { … }, path = { … } }, … }, … }`, one
 * route a line, in the order the filter tries them: for each verb, templates
 * with fewer variables first, so that a literal segment wins over a variable,
 * as in the transcoder.
 */
export function luaRoutesTable(routes: BodyRoute[]): string {
  const variables = (template: string) => (template.match(/\{/g) ?? []).length;
  routes = [...routes].sort((a, b) => a.verb.localeCompare(b.verb) || variables(a.template) - variables(b.template) || a.template.localeCompare(b.template));
  const lines = ['local ROUTES = {'];
  for (const verb of [...new Set(routes.map((r) => r.verb))]) {
    lines.push(`  ${verb} = {`);
    for (const route of routes.filter((r) => r.verb === verb)) {
      const fields = luaTable(Object.entries(route.fields).map(([name, field]) => [name, luaString(field)]));
      const path = luaTable(route.pathFields.map((name) => [name, 'true']));
      lines.push(`    { pattern = ${luaString(route.pattern)}, fields = ${fields}, path = ${path} }, -- ${route.template}`);
    }
    lines.push('  },');
  }
  lines.push('}');
  return lines.join('\n');
}

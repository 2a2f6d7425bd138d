/**
 * Loads a proto from proto/ with the options every part of the product uses
 * (the same ones scripts/gen-proto.sh gives the type generator), once.
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { fileURLToPath } from 'node:url';

/** The repository root, from this file's compiled location (dist/lib/grpc/). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [`${REPO_ROOT}proto`, `${REPO_ROOT}gen/proto-deps`],
};

/**
 * Channel options of the product's own clients to its peers (forwarding to the
 * primary, the user directory): when a peer is down or not up yet, try again
 * within a second rather than grpc-js's default backoff of up to two minutes;
 * and while calls are open (a replica's forwarding stream always is), ping the
 * peer every 10 s and drop the connection if a ping goes 5 s unanswered, so a
 * peer that vanished without closing it (a partition, a frozen host) is noticed
 * in seconds, not when TCP gives up.
 */
export const PEER_CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.initial_reconnect_backoff_ms': 200,
  'grpc.max_reconnect_backoff_ms': 1000,
  'grpc.keepalive_time_ms': 10_000,
  'grpc.keepalive_timeout_ms': 5_000,
};

export interface LoadedProto {
  packageDefinition: protoLoader.PackageDefinition;
  grpcObject: grpc.GrpcObject;
}

/** `file` is relative to proto/, e.g. "auth/v1/auth.proto". */
export function loadProto(file: string): LoadedProto {
  const packageDefinition = protoLoader.loadSync(file, LOADER_OPTIONS);
  return { packageDefinition, grpcObject: grpc.loadPackageDefinition(packageDefinition) };
}

/** The service constructor at a dotted path such as "auth.v1.AuthService". */
export function serviceClient(grpcObject: grpc.GrpcObject, dotted: string): grpc.ServiceClientConstructor {
  let node: unknown = grpcObject;
  for (const part of dotted.split('.')) node = (node as Record<string, unknown>)[part];
  if (typeof node !== 'function' || !('service' in node)) throw new Error(`no service ${dotted} in the loaded proto`);
  return node as grpc.ServiceClientConstructor;
}

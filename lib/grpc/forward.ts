/**
 * Forwarding a write RPC from a replica to the primary's copy of the same
 * service: same method, same request, the caller's metadata (plus a hop
 * marker so a call is forwarded at most once), the caller's deadline (capped),
 * and the primary's answer relayed as it is, status codes included.
 */
import * as grpc from '@grpc/grpc-js';
import { AppError, Status, unavailable } from '../errors.js';
import { PEER_CHANNEL_OPTIONS } from './proto.js';

/** Metadata key marking a call that a replica forwarded. */
export const FORWARDED_HEADER = 'x-forwarded-write';
/** Metadata key carrying the TXID a write committed at. */
export const TXID_HEADER = 'x-txid';
/** A forwarded call never waits longer than this, whatever the caller's deadline. */
export const DefaultForwardTimeoutMs = 10_000;

/** Transport headers that belong to one hop and must not be copied to the next. */
const HOP_HEADERS = ['user-agent', 'content-type', 'te', 'host', 'grpc-accept-encoding', 'accept-encoding', 'grpc-encoding', 'grpc-timeout'];

export interface ForwardResult {
  response: unknown;
  txid?: bigint;
}

export class Forwarder {
  private readonly clients = new Map<string, grpc.Client>();

  constructor(
    private readonly nodeName: string,
    private readonly peers: Map<string, string>,
  ) {}

  async forward(
    primaryHostname: string | undefined,
    method: grpc.MethodDefinition<unknown, unknown>,
    request: unknown,
    incoming: grpc.Metadata,
    deadline: grpc.Deadline,
  ): Promise<ForwardResult> {
    const address = primaryHostname === undefined ? undefined : this.peers.get(primaryHostname);
    if (address === undefined) {
      throw unavailable('the primary is unknown to this node: writes are unavailable, reads still work');
    }
    const metadata = incoming.clone();
    for (const key of HOP_HEADERS) metadata.remove(key);
    metadata.set(FORWARDED_HEADER, this.nodeName);

    const cap = Date.now() + DefaultForwardTimeoutMs;
    const callerDeadline = deadline instanceof Date ? deadline.getTime() : deadline;
    const effective = Math.min(cap, Number.isFinite(callerDeadline) ? callerDeadline : cap);

    const client = this.client(address);
    return new Promise<ForwardResult>((resolve, reject) => {
      let txid: bigint | undefined;
      const call = client.makeUnaryRequest(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        request,
        metadata,
        { deadline: effective },
        (err, response) => {
          if (err) return reject(relayError(err, effective === cap));
          resolve({ response, txid });
        },
      );
      call.on('metadata', (md: grpc.Metadata) => {
        const value = md.get(TXID_HEADER)[0];
        if (value !== undefined) txid = parseTxid(String(value));
      });
    });
  }

  close(): void {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }

  private client(address: string): grpc.Client {
    let client = this.clients.get(address);
    if (!client) {
      client = new grpc.Client(address, grpc.credentials.createInsecure(), PEER_CHANNEL_OPTIONS);
      this.clients.set(address, client);
    }
    return client;
  }
}

/** How grpc-js describes a connection that could not be made or was lost. */
const CONNECTION_FAILURE = /No connection established|ECONNREFUSED|ECONNRESET|Connection dropped|connect/i;

/**
 * The primary's status is relayed as is, except that "could not reach it"
 * (refused, dropped, or silent until our own cap) becomes one clear,
 * retryable UNAVAILABLE.
 */
function relayError(err: grpc.ServiceError, ourCapWasTheDeadline: boolean): AppError {
  const unreachable =
    (err.code === Status.UNAVAILABLE && CONNECTION_FAILURE.test(err.details)) ||
    (err.code === Status.DEADLINE_EXCEEDED && ourCapWasTheDeadline);
  if (unreachable) {
    return unavailable('the primary is unreachable: writes are unavailable until it returns; reads still work', err);
  }
  return new AppError(err.code, err.details, { cause: err });
}

export function parseTxid(value: string): bigint | undefined {
  if (!/^[0-9]{1,20}$/.test(value)) return undefined;
  return BigInt(value);
}

/**
 * The auth service's UserDirectory, as the enrollment domain sees it. It
 * calls the auth service on the same node: on the primary (where every write
 * that needs a user runs) that copy of auth.db is always up to date.
 */
import * as grpc from '@grpc/grpc-js';
import type { DirectoryUser__Output } from '../../gen/ts/auth/v1/DirectoryUser.js';
import type { ListUserChangesResponse__Output } from '../../gen/ts/auth/v1/ListUserChangesResponse.js';
import type { ListUsersResponse__Output } from '../../gen/ts/auth/v1/ListUsersResponse.js';
import { AppError, Status, unavailable } from '../../lib/errors.js';
import { loadProto, PEER_CHANNEL_OPTIONS, serviceClient } from '../../lib/grpc/proto.js';
import type { DirectoryUser, UserChange, UserDirectory } from './domain/enroll-domain.js';

/** Users fetched per call. */
const PageSize = 500;
const DefaultCallTimeoutMs = 5_000;

export function directoryClient(address: string, opts: { timeoutMs?: number } = {}): UserDirectory & { close(): void } {
  const timeoutMs = opts.timeoutMs ?? DefaultCallTimeoutMs;
  const { grpcObject } = loadProto('auth/v1/auth.proto');
  const Ctor = serviceClient(grpcObject, 'auth.v1.UserDirectory');
  // The auth service may start a moment after this one: reconnect soon after it is up.
  const client = new Ctor(address, grpc.credentials.createInsecure(), PEER_CHANNEL_OPTIONS);
  /** One call of the directory, its errors in our words. */
  function ask<Res>(method: 'ListUsers' | 'ListUserChanges', request: object): Promise<Res> {
    return new Promise((resolve, reject) => {
      // waitForReady (a grpc-js metadata option): a call made while the channel
      // backs off waits for the connection, up to the deadline, instead of failing at once.
      const metadata = new grpc.Metadata({ waitForReady: true });
      const options = { deadline: Date.now() + timeoutMs };
      client[method](request, metadata, options, (err: grpc.ServiceError | null, res: Res) => (err ? reject(directoryError(err)) : resolve(res)));
    });
  }
  return {
    async usersAfter(afterId: number): Promise<DirectoryUser[]> {
      const res = await ask<ListUsersResponse__Output>('ListUsers', { after_id: afterId, page_size: PageSize });
      return res.users.map(fromDirectory);
    },
    async userChangesAfter(afterSeq: number): Promise<UserChange[]> {
      const res = await ask<ListUserChangesResponse__Output>('ListUserChanges', { after_seq: afterSeq, page_size: PageSize });
      return res.changes.map((c) => ({ seq: c.seq, user: fromDirectory(c.user!) }));
    },
    close: () => client.close(),
  };
}

function fromDirectory(u: DirectoryUser__Output): DirectoryUser {
  return { id: u.user_id, username: u.username, first_name: u.first_name, last_name: u.last_name, roles: u.roles };
}

/**
 * What a client of the enrollment service sees when the directory fails: a
 * retryable status in our words. grpc-js's own text (addresses, socket errors)
 * stays in the cause, for the logs.
 */
function directoryError(err: grpc.ServiceError): AppError {
  if (err.code === Status.UNAVAILABLE || err.code === Status.DEADLINE_EXCEEDED) {
    return unavailable('the user directory (auth service) is unreachable: retry', err);
  }
  return new AppError(Status.INTERNAL, 'the user directory failed', { cause: err });
}

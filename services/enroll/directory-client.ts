/**
 * The auth service's UserDirectory, as the enrollment domain sees it. It
 * calls the auth service on the same node: on the primary (where every write
 * that needs a user runs) that copy of auth.db is always up to date.
 */
import * as grpc from '@grpc/grpc-js';
import type { ListUsersResponse__Output } from '../../gen/ts/auth/v1/ListUsersResponse.js';
import { loadProto, serviceClient } from '../../lib/grpc/proto.js';
import type { DirectoryUser, UserDirectory } from './domain/enroll-domain.js';

/** Users fetched per call. */
const PageSize = 500;
const CallTimeoutMs = 5_000;

export function directoryClient(address: string): UserDirectory & { close(): void } {
  const { grpcObject } = loadProto('auth/v1/auth.proto');
  const Ctor = serviceClient(grpcObject, 'auth.v1.UserDirectory');
  const client = new Ctor(address, grpc.credentials.createInsecure());
  return {
    usersAfter(afterId: number): Promise<DirectoryUser[]> {
      return new Promise((resolve, reject) => {
        client.ListUsers({ after_id: afterId, page_size: PageSize }, { deadline: Date.now() + CallTimeoutMs }, (err: grpc.ServiceError | null, res: ListUsersResponse__Output) => {
          if (err) return reject(err);
          resolve(
            res.users.map((u) => ({ id: u.user_id, username: u.username, first_name: u.first_name, last_name: u.last_name, roles: u.roles })),
          );
        });
      });
    },
    close: () => client.close(),
  };
}

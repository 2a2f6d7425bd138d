/**
 * Asking a service for its health: the standard gRPC health service every
 * service serves (grpc.health.v1), with the role names of lib/grpc/service.ts
 * ("role.primary", "role.replica") beside the overall status ("").
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath } from 'grpc-health-check';

const health = grpc.loadPackageDefinition(protoLoader.loadSync(protoPath, { enums: String })) as any;

/** What the service at `addr` (host:port) answers to a health check of `service`: "SERVING", "NOT_SERVING", … */
export async function healthStatus(addr: string, service = '', timeoutMs = 2000): Promise<string> {
  const client = new health.grpc.health.v1.Health(addr, grpc.credentials.createInsecure());
  try {
    return await new Promise<string>((resolve, reject) =>
      client.Check({ service }, { deadline: Date.now() + timeoutMs }, (err: Error | null, res: { status: string }) => (err ? reject(err) : resolve(res.status))),
    );
  } finally {
    client.close();
  }
}

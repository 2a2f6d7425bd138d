// The stand-in primary the floor puts behind the product's Envoy: it must look
// like a healthy primary to Envoy and answer the writes with messages a real
// client decodes, or the control row would measure errors instead of writes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { call, enrollClient } from '../../test/support/clients.js';
import { STAND_IN_SERVICE, standInAnswers, startStandInPrimary } from './stand-in.js';

test('it answers health checks SERVING, for any service name Envoy asks about', async () => {
  const primary = await startStandInPrimary(0);
  const client = new grpc.Client(primary.address, grpc.credentials.createInsecure());
  try {
    const def = STAND_IN_SERVICE.Check!;
    const answer = await new Promise<Buffer>((resolve, reject) =>
      client.makeUnaryRequest(def.path, def.requestSerialize, def.responseDeserialize, Buffer.from([0x0a, 0x0c, ...Buffer.from('role.primary')]), (err, res) => (err ? reject(err) : resolve(res!))),
    );
    assert.deepEqual([...answer], [0x08, 0x01]); // HealthCheckResponse { status: SERVING }
  } finally {
    client.close();
    primary.stop();
  }
});

test('it answers enroll and drop with the product\'s messages, and an x-txid that grows', async () => {
  const primary = await startStandInPrimary(0);
  const client = enrollClient(primary.address);
  try {
    const enrolled = await call<any>(client, 'CreateEnrollment', { user_id: 5, section_id: 9 });
    assert.equal(enrolled.error, undefined);
    assert.equal(enrolled.response.status, 'enrolled');
    const dropped = await call<any>(client, 'DropUserEnrollment', { user_id: 5, section_id: 9 });
    assert.equal(dropped.error, undefined);
    assert.deepEqual(dropped.response.promoted_user_ids, []);
    const [first, second] = [enrolled, dropped].map((a) => Number(a.headers.get('x-txid')[0]));
    assert.ok(first! >= 1 && second === first! + 1, `x-txid ${first} then ${second}`);
    // Anything else is not a write the bench sends: the stand-in does not pretend.
    const other = await call<any>(client, 'ListSections', { page_size: 5 });
    assert.equal(other.error?.code, grpc.status.UNIMPLEMENTED);
  } finally {
    client.close();
    primary.stop();
  }
});

test('its answers are the encoded messages, not empty bytes', () => {
  const { create, drop } = standInAnswers();
  assert.ok(create.length > 10, `create answer ${create.length} bytes`);
  assert.ok(drop.length > 4, `drop answer ${drop.length} bytes`);
});

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Cluster, Redis } from 'ioredis';
import { Keyspace } from '../../packages/core/src/keyspace.ts';
import { lookupInput, request, SAFE_TRANSACTION, submitAndWait } from '../support/http.ts';
import { startService, startStack, type Stack } from '../support/services.ts';

const keys = new Keyspace('inferq');
const MODELS = ['fraud-risk', 'lookup'];

/** Every inferq key on one cluster node (a test's keyspace is small). */
async function keysOn(node: Redis): Promise<string[]> {
  const found: string[] = [];
  for await (const batch of node.scanStream({ match: 'inferq:*', count: 1000 })) found.push(...(batch as string[]));
  return found;
}

describe('Redis Cluster: each model on its own slot, models spread over the masters', () => {
  let stack: Stack;
  let cluster: Cluster;
  before(async () => {
    stack = await startStack({ redis: 'cluster', workerEnv: { INFERQ_MODELS: MODELS.join(',') } });
    // The worker finds the cluster from REDIS_CLUSTER_NODES alone (its REDIS_URL leads nowhere).
    const nodes = stack.redis.url.slice('redis-cluster://'.length);
    await stack.workers[0]?.stop('SIGKILL');
    stack.workers[0] = await startService('worker', { env: { ...stack.env, REDIS_URL: 'redis://127.0.0.1:1', REDIS_CLUSTER_NODES: nodes, INFERQ_MODELS: MODELS.join(',') } });
    cluster = stack.redis.connect() as Cluster;
  });
  after(async () => {
    cluster.disconnect();
    await stack.stop();
  });

  test("two models' queues live on different masters, every key of a model on its master only", async () => {
    for (const body of [{ model: 'fraud-risk', features: SAFE_TRANSACTION }, { model: 'lookup', inputs: lookupInput([1, 2]) }]) {
      const res = await submitAndWait(stack.baseUrl, body);
      assert.equal(res.body.status, 'succeeded', `${body.model}: ${JSON.stringify(res.body)}`);
    }
    const masters = cluster.nodes('master');
    assert.equal(masters.length, 3);
    const ownerOf = new Map<string, string>();
    for (const model of ['fraud-risk', 'lookup']) {
      const slot = Number(await cluster.cluster('KEYSLOT', keys.bullQueueKey(model, 'meta')));
      const keysBySlot = await Promise.all(masters.map(async (m) => ({ node: `${m.options.host}:${m.options.port}`, owns: Number(await m.cluster('COUNTKEYSINSLOT', slot)) > 0 })));
      const owners = keysBySlot.filter((k) => k.owns).map((k) => k.node);
      assert.equal(owners.length, 1, `${model}'s slot ${slot} has keys on exactly one master: ${JSON.stringify(keysBySlot)}`);
      ownerOf.set(model, owners[0] as string);
    }
    assert.notEqual(ownerOf.get('fraud-risk'), ownerOf.get('lookup'), 'fraud-risk and lookup are served by different masters');

    for (const master of masters) {
      const here = `${master.options.host}:${master.options.port}`;
      const found = await keysOn(master);
      for (const model of ['fraud-risk', 'lookup']) {
        const mine = found.filter((k) => k.includes(`{${model}}`));
        if (ownerOf.get(model) === here) {
          assert.ok(mine.some((k) => k.startsWith(`inferq:${keys.modelQueue(model)}:`)), `${model}'s queue keys on its master ${here}`);
          assert.ok(mine.some((k) => k.startsWith(`inferq:result:{${model}}:`)), `${model}'s results on its master ${here}`);
        } else {
          assert.deepEqual(mine, [], `no key of ${model} on ${here}`);
        }
      }
    }
  });

  test('a long-poll hears its job finish through sharded pub/sub, and a batch finishes on its model slot', async () => {
    const submitted = await request(stack.baseUrl, 'POST', '/v1/jobs', { model: 'lookup', inputs: lookupInput([3]) });
    assert.equal(submitted.status, 202);
    const polled = await request(stack.baseUrl, 'GET', `/v1/jobs/${submitted.body.job_id}?wait=20`);
    assert.equal(polled.body.status, 'succeeded');
    const rows = Array.from({ length: 50 }, (_, i) => JSON.stringify({ id: `r${i}`, features: SAFE_TRANSACTION })).join('\n');
    const batch = await fetch(`${stack.baseUrl}/v1/batches?model=fraud-risk`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: `${rows}\n` });
    const created = (await batch.json()) as { batch_id: string };
    assert.equal(batch.status, 202);
    const done = await request(stack.baseUrl, 'GET', `/v1/batches/${created.batch_id}?wait=30`);
    assert.equal(done.body.status, 'succeeded', JSON.stringify(done.body));
    assert.equal(done.body.succeeded, 50);
    const slot = Number(await cluster.cluster('KEYSLOT', keys.batch(created.batch_id)));
    assert.equal(slot, Number(await cluster.cluster('KEYSLOT', keys.modelQueue('fraud-risk'))), "a batch's keys share its model's slot");
  });
});

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../../packages/core/src/config.ts';
import { newBatchId, newJobId } from '../../packages/core/src/job-id.ts';
import { Keyspace } from '../../packages/core/src/keyspace.ts';
import { parseRedisTarget } from '../../packages/core/src/redis-target.ts';

/** The part of a key Redis Cluster hashes: between the first `{` and the next `}`, if not empty. */
function hashedPart(key: string): string {
  const open = key.indexOf('{');
  const close = open < 0 ? -1 : key.indexOf('}', open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : key;
}

describe('Redis Cluster: where inferq keys hash, and how a cluster is named', () => {
  const keys = new Keyspace('inferq');
  const job = newJobId('fraud-risk', 'acme');
  const batch = newBatchId('fraud-risk');

  test("every key a model owns hashes on the model's name, so its scripts and transactions stay on one slot", () => {
    const owned = [
      keys.bullQueueKey('fraud-risk', 'wait'),
      keys.bullJob('fraud-risk', job),
      keys.result(job),
      keys.queuedRequests('fraud-risk'),
      keys.tenantBacklog('fraud-risk', 'acme'),
      keys.batch(batch),
      keys.batchChunk(batch, 3),
      keys.jobsFinishedChannel('fraud-risk'),
      keys.progressChannel('fraud-risk'),
      keys.webhookSubscription(job),
      keys.webhookDeliveries(batch),
      keys.webhookAttempts(job, 'delivery-1'),
      keys.routing('fraud-risk'),
      keys.routingEvents('fraud-risk'),
      keys.guardrailLock('fraud-risk'),
      keys.versionHealth('fraud-risk', '2'),
      keys.shadowPair(job),
      keys.shadowLog('fraud-risk'),
      keys.predictions('fraud-risk'),
      keys.predictionIndex('fraud-risk', 491_000),
      keys.predictionKeys('fraud-risk', 491_000),
      keys.labels('fraud-risk', 491_000),
      keys.qualityOutcomes('fraud-risk', '2'),
      keys.driftReference('fraud-risk', '2'),
      keys.driftRecent('fraud-risk', '2'),
      keys.unloading('fraud-risk'),
    ];
    for (const key of owned) assert.equal(hashedPart(key), 'fraud-risk', key);
    assert.equal(hashedPart(keys.result(newJobId('wide-mlp', 'acme'))), 'wide-mlp', 'another model hashes apart');
  });

  test('shared state has slots of its own; per-tenant state spreads by its own key', () => {
    assert.equal(hashedPart(keys.workers()), 'workers');
    assert.equal(hashedPart(keys.workerReport('w-1')), 'workers', 'worker reports are read with one MGET beside the worker set');
    assert.equal(hashedPart(`inferq:${keys.webhookQueue()}:wait`), 'webhooks');
    assert.equal(hashedPart(`inferq:${keys.schedulesQueue()}:wait`), 'schedules');
    for (const key of [keys.rateLimit('acme'), keys.idempotency('abc'), keys.webhookSecret('acme')]) assert.equal(hashedPart(key), key, `${key} is hashed whole`);
  });

  test('a braced prefix, which would pin every key to one slot, is refused', () => {
    assert.throws(() => loadConfig({}, { INFERQ_QUEUE_PREFIX: '{inferq}' }), (error: unknown) => error instanceof ConfigError && /INFERQ_QUEUE_PREFIX/.test(error.message));
  });

  test('redis-cluster:// URLs and REDIS_CLUSTER_NODES name the seed nodes', () => {
    assert.deepEqual(parseRedisTarget('redis-cluster://10.0.0.1:7000,10.0.0.2,redis-3:7002'), {
      kind: 'cluster',
      tls: false,
      nodes: [
        { host: '10.0.0.1', port: 7000 },
        { host: '10.0.0.2', port: 6379 },
        { host: 'redis-3', port: 7002 },
      ],
    });
    assert.deepEqual(parseRedisTarget('rediss-cluster://app:s%40cret@a:1,b:2/'), { kind: 'cluster', tls: true, username: 'app', password: 's@cret', nodes: [{ host: 'a', port: 1 }, { host: 'b', port: 2 }] });
    assert.deepEqual(parseRedisTarget('redis://127.0.0.1:6379'), { kind: 'standalone', url: 'redis://127.0.0.1:6379' });
    for (const bad of ['redis-cluster://', 'redis-cluster://a:99999', 'redis-cluster://a:1,,b:2', 'cluster://a:1', 'localhost:6379']) assert.equal(parseRedisTarget(bad), undefined, bad);

    assert.equal(loadConfig({}, { REDIS_URL: 'redis-cluster://a:7000,b:7001' }).redisUrl, 'redis-cluster://a:7000,b:7001');
    assert.equal(loadConfig({}, { REDIS_URL: 'redis://ignored:6379', REDIS_CLUSTER_NODES: 'a:7000,b:7001' }).redisUrl, 'redis-cluster://a:7000,b:7001', 'the node list wins');
    assert.throws(() => loadConfig({}, { REDIS_CLUSTER_NODES: 'a:7000,:x' }), /REDIS_CLUSTER_NODES/);
  });
});

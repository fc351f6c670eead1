import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { startApiService, type ApiService } from '../../apps/api/src/api-service.ts';
import { loadConfig } from '../../packages/core/src/config.ts';
import { Keyspace } from '../../packages/core/src/keyspace.ts';
import { createLogger } from '../../packages/core/src/logger.ts';
import type { WorkerReport } from '../../packages/core/src/worker-report.ts';
import { startLocalRedis, type LocalRedis } from '../../scripts/lib/local-redis.ts';
import { SAFE_TRANSACTION } from '../support/http.ts';
import { copyModel, testModelDir } from '../support/services.ts';

// Two API processes' worth of services (app.request(), no server) on one real Redis, no worker:
// what the policy decides is read from the 202 answers.
describe('routing policy: seeded from routing.json, shared by every API process', () => {
  let redis: LocalRedis;
  let fraud: string;
  const services: ApiService[] = [];
  const start = async () => {
    const config = loadConfig({ redisUrl: redis.url, modelDir: testModelDir({ 'fraud-risk': fraud }), routingRefreshMs: 60_000, guardrailIntervalMs: 0 }, {});
    const service = await startApiService(config, createLogger({ level: 'silent' }));
    services.push(service);
    return service;
  };
  const json = async (service: ApiService, method: string, url: string, body?: unknown) => {
    const res = await service.app.request(url, { method, ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }) });
    return { status: res.status, body: (await res.json()) as any };
  };
  const versionsOf = async (service: ApiService, n: number) => {
    const bulk = await json(service, 'POST', '/v1/jobs/bulk', { jobs: Array.from({ length: n }, () => ({ model: 'fraud-risk', features: SAFE_TRANSACTION })) });
    assert.equal(bulk.status, 202);
    return bulk.body.jobs.map((j: { model_version: string }) => j.model_version) as string[];
  };

  before(async () => {
    redis = await startLocalRedis();
    fraud = copyModel('fraud-risk');
    writeFileSync(path.join(fraud, 'routing.json'), JSON.stringify({ weights: { '1': 70, '2': 30 }, fallback: '1' }));
  });
  after(async () => {
    for (const s of services) await s.close();
    await redis.stop();
  });

  test('routing.json seeds the policy once; a restart does not overwrite what Redis holds', async () => {
    const a = await start();
    const status = await json(a, 'GET', '/v1/models/fraud-risk/routing');
    assert.equal(status.body.source, 'repository');
    assert.deepEqual(status.body.weights, { '1': 70, '2': 30 });
    assert.equal(status.body.fallback, '1');
    assert.equal(status.body.events[0].type, 'seeded');
    const versions = await versionsOf(a, 400);
    const v2 = versions.filter((v) => v === '2').length;
    // Binomial(400, 0.3): sd ≈ 9.2; 5 sd either side.
    assert.ok(Math.abs(v2 - 120) <= 46, `version 2 got ${v2} of 400`);
    const batch = await json(a, 'POST', '/v1/batches', { model: 'fraud-risk', rows: [{ features: SAFE_TRANSACTION }] });
    assert.equal(batch.status, 202, JSON.stringify(batch.body));
    assert.equal(batch.body.model_version, '1', "a batch runs whole on the policy's stable version, not split by weight");

    writeFileSync(path.join(fraud, 'routing.json'), JSON.stringify({ weights: { '1': 100 } }));
    const b = await start();
    assert.deepEqual((await json(b, 'GET', '/v1/models/fraud-risk/routing')).body.weights, { '1': 70, '2': 30 }, 'the stored policy wins');
  });

  test('a change made through one API process reaches the others at once (pub/sub), without a Redis read per job', async () => {
    const [a, b] = services as [ApiService, ApiService];
    // A live worker's report, as a worker writes it, so both versions count as loaded.
    const keys = new Keyspace('inferq');
    const admin = new Redis(redis.url);
    const report: WorkerReport = {
      worker_id: 'w1', host: 'test', pid: 1, started_at: new Date().toISOString(), heartbeat_at: new Date().toISOString(),
      versions: ['1', '2'].map((version) => ({ model: 'fraud-risk', version, state: 'ready' as const })),
    };
    await admin.multi().set(keys.workerReport('w1'), JSON.stringify(report), 'PX', 30_000).zadd(keys.workers(), Date.now(), 'w1').exec();
    admin.disconnect();

    const put = await json(a, 'PUT', '/v1/models/fraud-risk/routing', { weights: { '2': 100 } });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.equal(put.body.revision, 2);
    const deadline = Date.now() + 5000;
    while ((await json(b, 'GET', '/v1/models')).body.models.find((m: { name: string }) => m.name === 'fraud-risk').routing.revision !== 2) {
      assert.ok(Date.now() < deadline, 'process b never heard of the change');
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.deepEqual(new Set(await versionsOf(b, 50)), new Set(['2']));
    const sticky = await json(b, 'POST', '/v1/jobs', { model: 'fraud-risk', routing_key: 'user-1', features: SAFE_TRANSACTION });
    assert.equal(sticky.body.routed_by, 'sticky');
    assert.equal(sticky.body.model_version, '2');
  });
});

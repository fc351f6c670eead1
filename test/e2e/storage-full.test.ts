import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { Keyspace } from '../../packages/core/src/keyspace.ts';
import { JobStore } from '../../packages/jobs/src/job-store.ts';
import { freePort, startLocalRedis, type LocalRedis } from '../../scripts/lib/local-redis.ts';
import { request, SAFE_TRANSACTION } from '../support/http.ts';
import { sample } from '../support/prometheus.ts';
import { startService, stopAll, testModelDir } from '../support/services.ts';

const job = { model: 'fraud-risk', features: SAFE_TRANSACTION };

/** Fills Redis past a maxmemory just above what it holds now: every write is refused with OOM from here on. */
async function fill(admin: Redis): Promise<void> {
  const used = Number(/^used_memory:(\d+)/m.exec(await admin.info('memory'))?.[1]);
  await admin.config('SET', 'maxmemory', String(used + 4 * 1024 * 1024));
  await admin.setrange('filler', 8 * 1024 * 1024, 'x');
}

async function free(admin: Redis): Promise<void> {
  await admin.del('filler');
  await admin.config('SET', 'maxmemory', '0');
}

async function eventually(check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('Redis out of memory (maxmemory under noeviction)', () => {
  let redis: LocalRedis | undefined;
  let admin: Redis | undefined;
  after(async () => {
    admin?.disconnect();
    await stopAll();
    await redis?.stop();
  });

  test('submits answer 503 STORAGE_FULL, /readyz 503, nothing half-written; all recover once memory frees', async () => {
    redis = await startLocalRedis();
    admin = new Redis(redis.url);
    const port = await freePort();
    const api = await startService('api', { env: { REDIS_URL: redis.url, PORT: String(port), INFERQ_MODEL_DIR: testModelDir(), INFERQ_MODELS: 'fraud-risk' } });
    const base = `http://127.0.0.1:${port}`;
    assert.equal((await request(base, 'GET', '/readyz')).status, 200);
    await fill(admin);

    const single = await request(base, 'POST', '/v1/jobs', job);
    assert.equal(single.status, 503, JSON.stringify(single.body));
    assert.equal(single.body.error.code, 'STORAGE_FULL');
    assert.ok(Number(single.headers.get('retry-after')) > 0);
    const bulk = await request(base, 'POST', '/v1/jobs/bulk', { jobs: [job, job] });
    assert.equal(bulk.status, 503, JSON.stringify(bulk.body));
    assert.equal(bulk.body.error.code, 'STORAGE_FULL');
    const idempotent = await request(base, 'POST', '/v1/jobs', job, { 'idempotency-key': 'full-1' });
    assert.equal(idempotent.status, 503);
    assert.equal(idempotent.body.error.code, 'STORAGE_FULL');
    const waited = await request(base, 'POST', '/v1/jobs', job, { prefer: 'wait=5' });
    assert.equal(waited.body.error.code, 'STORAGE_FULL');

    const ready = await request(base, 'GET', '/readyz');
    assert.equal(ready.status, 503);
    assert.equal(ready.body.redis, 'out_of_memory');
    const metrics = await fetch(`${base}/metrics`).then((r) => r.text());
    assert.ok((sample(metrics, 'inferq_storage_full_total') ?? 0) >= 4, 'refusals are counted');
    assert.ok(api.lines.some((l) => l.includes('redis is out of memory') && l.includes('Raise maxmemory')), 'one log line says what to do');

    // Nothing was counted in the queue depth or claimed for the refused submits.
    const keys = new Keyspace('inferq');
    assert.equal(Number((await admin.get(keys.queuedRequests('fraud-risk'))) ?? 0), 0);

    await free(admin);
    await eventually(async () => (await request(base, 'GET', '/readyz')).status === 200);
    const retried = await request(base, 'POST', '/v1/jobs', job, { 'idempotency-key': 'full-1' });
    assert.equal(retried.status, 202, JSON.stringify(retried.body));
    assert.equal(retried.headers.get('idempotent-replayed'), null, 'the refused submit had not claimed the key');
    assert.ok(api.lines.some((l) => l.includes('redis has memory again')));
  });

  test('a count taken back after a refused add is not refused itself', async () => {
    redis ??= await startLocalRedis();
    admin ??= new Redis(redis.url);
    const keys = new Keyspace('inferq');
    const store = new JobStore(admin, keys);
    const counter = keys.queuedRequests('oom-probe');
    await store.countIn([counter], 3);
    await fill(admin);
    await assert.rejects(store.countIn([counter], 1), /OOM/);
    await store.uncount([counter], 3);
    assert.equal(await admin.get(counter), '0');
    await free(admin);
  });
});

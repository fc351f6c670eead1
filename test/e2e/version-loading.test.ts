import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { freePort, startLocalRedis, type LocalRedis } from '../../scripts/lib/local-redis.ts';
import { request, SAFE_TRANSACTION } from '../support/http.ts';
import { startService, stopAll, testModelDir } from '../support/services.ts';

describe('a worker takes jobs only for versions it has loaded', () => {
  let redis: LocalRedis | undefined;
  after(async () => {
    await stopAll();
    await redis?.stop();
  });

  test('chunks and jobs queued for the version a starting worker loads last wait for it instead of failing', async () => {
    redis = await startLocalRedis();
    const port = await freePort();
    const env = { REDIS_URL: redis.url, PORT: String(port), INFERQ_MODEL_DIR: testModelDir(), INFERQ_MODELS: 'fraud-risk', INFERQ_BATCH_CHUNK_ROWS: '50' };
    await startService('api', { env });
    const base = `http://127.0.0.1:${port}`;
    // fraud-risk has versions 1 and 2; a worker loads them in that order and starts taking jobs with the first.
    const rows = Array.from({ length: 2000 }, (_, i) => JSON.stringify({ features: { ...SAFE_TRANSACTION, amount: 1 + i } })).join('\n');
    const batch = await fetch(`${base}/v1/batches?model=fraud-risk&version=2`, { method: 'POST', body: `${rows}\n`, headers: { 'content-type': 'application/x-ndjson' } }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }));
    assert.equal(batch.status, 202, JSON.stringify(batch.body));
    const jobs = await Promise.all(Array.from({ length: 40 }, () => request(base, 'POST', '/v1/jobs', { model: 'fraud-risk', version: '2', features: SAFE_TRANSACTION })));
    for (const j of jobs) assert.equal(j.status, 202);
    // Several sessions per version make each load take longer, so jobs arrive while version 2 loads.
    await startService('worker', { env: { ...env, INFERQ_INFERENCE_THREADS: '2' } });
    const done = await request(base, 'GET', `/v1/batches/${batch.body.batch_id}?wait=60`);
    assert.equal(done.body.status, 'succeeded', JSON.stringify(done.body));
    assert.equal(done.body.failed, 0);
    const finished = await Promise.all(jobs.map((j) => request(base, 'GET', `/v1/jobs/${j.body.job_id}?wait=30`)));
    assert.deepEqual(
      finished.filter((f) => f.body.status !== 'succeeded').map((f) => f.body.error?.code),
      [],
    );
  });
});

import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { freePort, startLocalRedis, type LocalRedis } from '../../scripts/lib/local-redis.ts';
import { request, SAFE_TRANSACTION, wideMlpInput } from '../support/http.ts';
import { startService, stopAll, testModelDir } from '../support/services.ts';

const KEYS = 'tenant-a:key-aaaaaaaa,tenant-b:key-bbbbbbbb';
const A = { authorization: 'Bearer key-aaaaaaaa' };
const B = { authorization: 'Bearer key-bbbbbbbb' };

describe('backpressure, rate limits, deadlines, priorities and fairness', () => {
  let redis: LocalRedis | undefined;
  afterEach(async () => {
    await stopAll();
    await redis?.stop();
    redis = undefined;
  });

  async function api(env: Record<string, string>) {
    const port = await freePort();
    await startService('api', { env: { ...env, PORT: String(port) } });
    return `http://127.0.0.1:${port}`;
  }

  test('per-tenant rate limit, shared by two API processes: 429 with Retry-After; other tenants unaffected', async () => {
    redis = await startLocalRedis();
    const env = { REDIS_URL: redis.url, INFERQ_MODEL_DIR: testModelDir(), INFERQ_API_KEYS: KEYS, INFERQ_RATE_LIMIT_PER_SECOND: '2', INFERQ_RATE_LIMIT_BURST: '6' };
    const [one, two] = [await api(env), await api(env)];
    // Sent at once, alternating processes; the budget refills at 2/s while they are answered, so
    // the requests let through are the burst of 6 plus what refilled meanwhile, never 6 per process.
    const started = performance.now();
    const statuses = (await Promise.all(Array.from({ length: 12 }, (_, i) => request(i % 2 ? two : one, 'GET', '/v1/models', undefined, A)))).map((r) => r.status);
    const refilled = Math.ceil(((performance.now() - started) / 1000) * 2);
    const passed = statuses.filter((s) => s === 200).length;
    assert.ok(passed >= 6 && passed <= 6 + refilled, `the burst is shared across processes: ${statuses} (${refilled} refilled)`);
    assert.ok(statuses.includes(429));
    const limited = await request(one, 'GET', '/v1/models', undefined, A);
    assert.equal(limited.status, 429);
    assert.equal(limited.body.error.code, 'RATE_LIMITED');
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
    assert.equal((await request(two, 'GET', '/v1/models', undefined, B)).status, 200, 'tenant b has its own budget');
  });

  test('a queue at its depth limit answers 429 QUEUE_FULL with a sane Retry-After, and nothing more is queued', async () => {
    redis = await startLocalRedis();
    const base = await api({ REDIS_URL: redis.url, INFERQ_MODEL_DIR: testModelDir(), INFERQ_MAX_QUEUE_DEPTH: '20' });
    const replies = [];
    for (let i = 0; i < 30; i++) {
      replies.push(await request(base, 'POST', '/v1/jobs', { model: 'wide-mlp', inputs: wideMlpInput(1) }));
      // The depth reading is reused for 250 ms; space the submits so each sees the last.
      await new Promise((r) => setTimeout(r, i >= 18 ? 300 : 0));
    }
    const full = replies.filter((r) => r.status === 429);
    assert.ok(full.length >= 8, `${full.length} refused`);
    assert.equal(replies.filter((r) => r.status === 202).length + full.length, 30);
    for (const r of full) {
      assert.equal(r.body.error.code, 'QUEUE_FULL');
      const retryAfter = Number(r.headers.get('retry-after'));
      assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
    }
    assert.ok(replies.filter((r) => r.status === 202).length <= 21, 'the queue does not grow past the limit (plus one stale reading)');
    assert.equal((await request(base, 'POST', '/v1/jobs', { model: 'fraud-risk', features: SAFE_TRANSACTION })).status, 202, 'other models are not affected');
  });

  test('a job not started before its deadline fails with DEADLINE_EXCEEDED and never runs', async () => {
    redis = await startLocalRedis();
    const env = { REDIS_URL: redis.url, INFERQ_MODEL_DIR: testModelDir(), INFERQ_MODELS: 'wide-mlp' };
    const base = await api(env);
    const late = await request(base, 'POST', '/v1/jobs', { model: 'wide-mlp', inputs: wideMlpInput(1), deadline_seconds: 0.3 });
    const patient = await request(base, 'POST', '/v1/jobs', { model: 'wide-mlp', inputs: wideMlpInput(1), deadline_seconds: 600 });
    await new Promise((r) => setTimeout(r, 600));
    await startService('worker', { env });
    const failed = await request(base, 'GET', `/v1/jobs/${late.body.job_id}?wait=30`);
    assert.equal(failed.body.status, 'failed');
    assert.equal(failed.body.error.code, 'DEADLINE_EXCEEDED');
    assert.equal(failed.body.started_at, null, 'it never started');
    assert.equal(failed.body.result, undefined);
    assert.equal((await request(base, 'GET', `/v1/jobs/${patient.body.job_id}?wait=30`)).body.status, 'succeeded');
  });

  test("fairness: tenant b's single job is not starved by tenant a's burst; priority 1 overtakes priority 5", async () => {
    redis = await startLocalRedis();
    const env = { REDIS_URL: redis.url, INFERQ_MODEL_DIR: testModelDir(), INFERQ_MODELS: 'wide-mlp', INFERQ_API_KEYS: KEYS };
    const base = await api(env);
    // The burst is queued before any worker runs, as if it had arrived in a moment.
    const burst: string[] = [];
    for (let i = 0; i < 40; i++) {
      const group = await Promise.all(Array.from({ length: 25 }, () => request(base, 'POST', '/v1/jobs', { model: 'wide-mlp', inputs: wideMlpInput(16) }, A)));
      burst.push(...group.map((r) => r.body.job_id as string));
    }
    const single = await request(base, 'POST', '/v1/jobs', { model: 'wide-mlp', inputs: wideMlpInput(16) }, B);
    const urgent = await request(base, 'POST', '/v1/jobs', { model: 'wide-mlp', inputs: wideMlpInput(16), priority: 1 }, A);
    await startService('worker', { env });

    const bJob = await request(base, 'GET', `/v1/jobs/${single.body.job_id}?wait=60`, undefined, B);
    const urgentJob = await request(base, 'GET', `/v1/jobs/${urgent.body.job_id}?wait=60`, undefined, A);
    const aJobs = await Promise.all(burst.map((id) => request(base, 'GET', `/v1/jobs/${id}?wait=120`, undefined, A)));
    assert.ok(aJobs.every((j) => j.body.status === 'succeeded'));
    const finishedAt = (j: { body: { finished_at: string } }) => Date.parse(j.body.finished_at);
    const aFinished = aJobs.map(finishedAt).sort((x, y) => x - y);
    const before = (t: number) => aFinished.filter((f) => f < t).length;
    // b's wait: how many of a's 1,000 earlier jobs ran first. FIFO would be all of them.
    assert.ok(before(finishedAt(bJob)) < 100, `tenant b waited behind ${before(finishedAt(bJob))} of tenant a's jobs`);
    assert.ok(before(finishedAt(urgentJob)) < 100, `the priority-1 job waited behind ${before(finishedAt(urgentJob))} jobs`);
  });
});

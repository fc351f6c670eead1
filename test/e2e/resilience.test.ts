import assert from 'node:assert/strict';
import { after, afterEach, describe, test } from 'node:test';
import { QueueEvents } from 'bullmq';
import { freePort, startLocalRedis, type LocalRedis } from '../../scripts/lib/local-redis.ts';
import { request, SAFE_TRANSACTION, wideMlpInput } from '../support/http.ts';
import { startService, stopAll, testModelDir } from '../support/services.ts';
import { WebhookReceiver } from '../support/webhook-receiver.ts';
import { parseJobId } from '../../packages/core/src/job-id.ts';

// Short locks so a killed worker's jobs are recovered within seconds, not the default 30.
const FAST_RECOVERY = { INFERQ_LOCK_DURATION_MS: '2000', INFERQ_STALLED_INTERVAL_MS: '1000' };

async function submitMany(baseUrls: string[], count: number, body: (i: number) => unknown): Promise<string[]> {
  const replies = await Promise.all(Array.from({ length: count }, (_, i) => request(baseUrls[i % baseUrls.length] as string, 'POST', '/v1/jobs', body(i))));
  for (const r of replies) assert.equal(r.status, 202, JSON.stringify(r.body));
  return replies.map((r) => r.body.job_id as string);
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function waitAll(baseUrl: string, ids: string[], waitSeconds = 60) {
  return Promise.all(ids.map((id) => request(baseUrl, 'GET', `/v1/jobs/${id}?wait=${waitSeconds}`)));
}

describe('resilience: killed workers, drained workers, many processes', () => {
  let redis: LocalRedis | undefined;
  afterEach(async () => {
    await stopAll();
    await redis?.stop();
    redis = undefined;
  });
  after(stopAll);

  test('SIGKILL a worker mid-load: another worker completes its jobs, none lost', async () => {
    redis = await startLocalRedis();
    const port = await freePort();
    const env = { REDIS_URL: redis.url, PORT: String(port), INFERQ_MODEL_DIR: testModelDir(), INFERQ_MODELS: 'wide-mlp', ...FAST_RECOVERY };
    const api = await startService('api', { env });
    const base = `http://127.0.0.1:${port}`;
    // The backlog is queued before any worker exists, so the kill lands in the middle of it.
    const ids = await submitMany([base], 400, () => ({ model: 'wide-mlp', inputs: wideMlpInput(32) }));
    const victim = await startService('worker', { env });
    // Kill while the victim holds jobs in flight, before a second worker exists.
    await waitUntil(async () => (await request(base, 'GET', `/v1/jobs/${ids[0]}`)).body.status === 'succeeded');
    victim.child.kill('SIGKILL');
    await victim.exited;
    const atKill = await Promise.all(ids.map((id) => request(base, 'GET', `/v1/jobs/${id}`)));
    assert.ok(atKill.some((j) => j.body.status === 'running'), 'the killed worker held jobs in flight');
    assert.ok(atKill.some((j) => j.body.status === 'queued'), 'jobs were still queued');
    await startService('worker', { env });
    const finished = await waitAll(base, ids);
    const statuses = finished.map((f) => f.body.status);
    assert.deepEqual(new Set(statuses), new Set(['succeeded']), `statuses: ${JSON.stringify(statuses.filter((s) => s !== 'succeeded').slice(0, 5))}`);
    await api.stop();
  });

  test('SIGKILL a worker mid-bundle under load: no request lost, none answered or announced twice', async () => {
    redis = await startLocalRedis();
    const receiver = await WebhookReceiver.start();
    try {
      const port = await freePort();
      const env = { REDIS_URL: redis.url, PORT: String(port), INFERQ_MODEL_DIR: testModelDir(), INFERQ_MODELS: 'wide-mlp', INFERQ_WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8', ...FAST_RECOVERY };
      await startService('api', { env });
      const base = `http://127.0.0.1:${port}`;
      const url = receiver.script('/killed', []);
      // Submitted concurrently, so requests share bundles (two 32-row requests fill a 64-row bundle).
      const ids = await submitMany([base], 300, () => ({ model: 'wide-mlp', inputs: wideMlpInput(32), webhook: { url, events: ['job.succeeded', 'job.failed'] } }));
      assert.ok(new Set(ids.map((id) => parseJobId(id)?.bundleId)).size < ids.length, 'requests were bundled');
      const victim = await startService('worker', { env });
      await waitUntil(async () => (await request(base, 'GET', `/v1/jobs/${ids[0]}`)).body.status === 'succeeded');
      victim.child.kill('SIGKILL');
      await victim.exited;
      const atKill = await Promise.all(ids.map((id) => request(base, 'GET', `/v1/jobs/${id}`)));
      const recordsAtKill = new Map(atKill.filter((j) => j.body.status === 'succeeded').map((j) => [j.body.job_id as string, JSON.stringify(j.body)]));
      assert.ok(atKill.some((j) => j.body.status === 'running'), 'the killed worker held bundles in flight');
      await startService('worker', { env });
      const finished = await waitAll(base, ids);
      const statuses = finished.map((f) => f.body.status);
      assert.deepEqual(new Set(statuses), new Set(['succeeded']), `statuses: ${JSON.stringify(statuses.filter((s) => s !== 'succeeded').slice(0, 5))}`);
      for (const f of finished) {
        const before = recordsAtKill.get(f.body.job_id);
        if (before) assert.equal(JSON.stringify(f.body), before, 'a request finished before the kill keeps its record');
      }
      // Every request is announced once: one delivery (one webhook-id) per request, whatever was retried.
      await receiver.waitFor('/killed', ids.length, 60_000).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 1000));
      const perJob = new Map<string, Set<string>>();
      for (const d of receiver.at('/killed')) {
        const jobId = JSON.parse(d.body).data.job_id as string;
        perJob.set(jobId, (perJob.get(jobId) ?? new Set()).add(String(d.headers['webhook-id'])));
      }
      const missing = ids.filter((id) => !perJob.has(id));
      const logs = await Promise.all(missing.slice(0, 3).map(async (id) => ({ id, deliveries: (await request(base, 'GET', `/v1/jobs/${id}/deliveries`)).body })));
      assert.equal(perJob.size, ids.length, `${receiver.at('/killed').length} deliveries for ${perJob.size} of ${ids.length} requests; missing: ${JSON.stringify(logs)}`);
      assert.ok([...perJob.values()].every((s) => s.size === 1), 'no request was announced twice');
    } finally {
      await receiver.close();
    }
  });

  test('SIGTERM: a worker finishes its in-flight batches and exits 0; the rest are served by another', async () => {
    redis = await startLocalRedis();
    const port = await freePort();
    const env = { REDIS_URL: redis.url, PORT: String(port), INFERQ_MODEL_DIR: testModelDir(), INFERQ_MODELS: 'wide-mlp', ...FAST_RECOVERY };
    await startService('api', { env });
    const base = `http://127.0.0.1:${port}`;
    const ids = await submitMany([base], 400, () => ({ model: 'wide-mlp', inputs: wideMlpInput(32) }));
    const draining = await startService('worker', { env });
    await waitUntil(async () => (await request(base, 'GET', `/v1/jobs/${ids[0]}`)).body.status === 'succeeded');
    draining.child.kill('SIGTERM');
    assert.equal(await draining.exited, 0, draining.lines.slice(-5).join('\n'));
    assert.ok(draining.lines.some((l) => l.includes('"msg":"worker stopped"')));
    const interim = await Promise.all(ids.map((id) => request(base, 'GET', `/v1/jobs/${id}`)));
    assert.ok(!interim.some((j) => j.body.status === 'running'), 'no job is left running by the stopped worker');
    assert.ok(interim.some((j) => j.body.status === 'succeeded'), 'the draining worker finished what it had');
    assert.ok(interim.some((j) => j.body.status === 'queued'), 'jobs it had not taken stayed queued for others');
    await startService('worker', { env });
    const finished = await waitAll(base, ids);
    assert.deepEqual(new Set(finished.map((f) => f.body.status)), new Set(['succeeded']));
  });

  test('two API processes and two workers share one Redis: every job completes exactly once', async () => {
    redis = await startLocalRedis();
    const modelDir = testModelDir();
    const ports = [await freePort(), await freePort()];
    const env = { REDIS_URL: redis.url, INFERQ_MODEL_DIR: modelDir, INFERQ_MODELS: 'fraud-risk' };
    await Promise.all([startService('worker', { env }), startService('worker', { env })]);
    await Promise.all(ports.map((p) => startService('api', { env: { ...env, PORT: String(p) } })));
    const bases = ports.map((p) => `http://127.0.0.1:${p}`);

    const events = new QueueEvents('model-{fraud-risk}', { connection: { url: redis.url }, prefix: 'inferq' });
    await events.waitUntilReady();
    const completions = new Map<string, number>();
    events.on('completed', ({ jobId }) => completions.set(jobId, (completions.get(jobId) ?? 0) + 1));

    const ids = await submitMany(bases, 400, (i) => ({ model: 'fraud-risk', features: { ...SAFE_TRANSACTION, amount: i + 1 } }));
    // Each API process answers for jobs submitted through the other.
    const finished = await Promise.all(ids.map((id, i) => request(bases[(i + 1) % 2] as string, 'GET', `/v1/jobs/${id}?wait=60`)));
    assert.deepEqual(new Set(finished.map((f) => f.body.status)), new Set(['succeeded']));
    await new Promise((r) => setTimeout(r, 300));
    await events.close();
    // A queue job is a bundle of requests: each bundle completes once.
    const bundles = new Set(ids.map((id) => parseJobId(id)?.bundleId));
    assert.equal(completions.size, bundles.size);
    assert.ok([...completions.values()].every((n) => n === 1), 'no bundle ran to completion twice');
  });

  test('Redis stops: the API answers 503 with Retry-After at once, and recovers when Redis returns', async () => {
    redis = await startLocalRedis();
    const port = await freePort();
    const env = { REDIS_URL: redis.url, PORT: String(port), INFERQ_MODEL_DIR: testModelDir(), INFERQ_MODELS: 'fraud-risk' };
    await startService('worker', { env });
    await startService('api', { env });
    const base = `http://127.0.0.1:${port}`;
    const before = await request(base, 'POST', '/v1/jobs', { model: 'fraud-risk', features: SAFE_TRANSACTION });
    assert.equal(before.status, 202);

    const redisPort = redis.port;
    await redis.stop();
    const started = Date.now();
    const down = await request(base, 'POST', '/v1/jobs', { model: 'fraud-risk', features: SAFE_TRANSACTION });
    assert.equal(down.status, 503);
    assert.equal(down.body.error.code, 'REDIS_UNAVAILABLE');
    assert.ok(Number(down.headers.get('retry-after')) > 0);
    assert.ok(Date.now() - started < 3000, 'the API fails fast instead of hanging');
    const poll = await request(base, 'GET', `/v1/jobs/${before.body.job_id}`);
    assert.equal(poll.status, 503);
    const ready = await request(base, 'GET', '/readyz');
    assert.equal(ready.status, 503);

    redis = await startLocalRedis({ port: redisPort });
    let after;
    for (let i = 0; i < 100; i++) {
      after = await request(base, 'POST', '/v1/jobs', { model: 'fraud-risk', features: SAFE_TRANSACTION });
      if (after.status === 202) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(after?.status, 202, 'the API recovers on its own');
    const job = await request(base, 'GET', `/v1/jobs/${after?.body.job_id}?wait=30`);
    assert.equal(job.body.status, 'succeeded', 'the worker reconnected too');
  });

  test('SIGTERM on the API answers held long-polls with the current state and exits 0 at once', async () => {
    redis = await startLocalRedis();
    const port = await freePort();
    const env = { REDIS_URL: redis.url, PORT: String(port), INFERQ_MODEL_DIR: testModelDir(), INFERQ_MODELS: 'fraud-risk' };
    const api = await startService('api', { env });
    const base = `http://127.0.0.1:${port}`;
    // No worker serves wide-mlp: the job stays queued while its poll is held.
    const submitted = await request(base, 'POST', '/v1/jobs', { model: 'wide-mlp', inputs: wideMlpInput(1) });
    const held = request(base, 'GET', `/v1/jobs/${submitted.body.job_id}?wait=30`);
    await new Promise((r) => setTimeout(r, 300));
    const stoppedAt = Date.now();
    api.child.kill('SIGTERM');
    const answer = await held;
    assert.equal(answer.status, 200);
    assert.equal(answer.body.status, 'queued');
    assert.equal(await api.exited, 0);
    assert.ok(Date.now() - stoppedAt < 10_000, 'the held poll did not keep the server open for its full wait');
  });
});

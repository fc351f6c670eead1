import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Redis } from '../../packages/core/src/redis-connection.ts';
import { parseJobId, requestId, newBundleId } from '../../packages/core/src/job-id.ts';
import type { BundlePayload, FinishedJobRecord } from '../../packages/core/src/job-types.ts';
import { sample } from '../support/prometheus.ts';
import { lookupInput, request, RISKY_TRANSACTION, SAFE_TRANSACTION, wideMlpInput } from '../support/http.ts';
import { copyModel, startStack, testModelDir, type Stack } from '../support/services.ts';
import { WebhookReceiver } from '../support/webhook-receiver.ts';
import { freePort } from '../../scripts/lib/local-redis.ts';

const bundleOf = (jobId: string) => parseJobId(jobId)?.bundleId;

/** fraud-risk v2 under another name whose batcher holds a lone request 3 s for neighbours: it stays `running` that long. */
function slowModelDir(): string {
  const copy = copyModel('fraud-risk');
  for (const version of ['1', '2']) {
    const manifestPath = path.join(copy, version, 'model.json');
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { max_wait_ms: number };
    manifest.max_wait_ms = 3000;
    writeFileSync(manifestPath, JSON.stringify(manifest, null, 2));
  }
  return testModelDir({ 'slow-fraud': copy });
}

describe('request bundles: many requests per queue job, each one first-class', () => {
  let stack: Stack;
  let receiver: WebhookReceiver;
  let admin: Redis;
  let workerMetricsUrl: string;
  before(async () => {
    receiver = await WebhookReceiver.start();
    const healthPort = await freePort();
    workerMetricsUrl = `http://127.0.0.1:${healthPort}/metrics`;
    // wide-mlp has no worker here, so its bundles stay queued.
    stack = await startStack({
      env: { INFERQ_MODEL_DIR: slowModelDir(), INFERQ_WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8' },
      workerEnv: { INFERQ_MODELS: 'fraud-risk,lookup,slow-fraud', INFERQ_WORKER_HEALTH_PORT: String(healthPort) },
    });
    admin = stack.redis.connect();
  });
  after(async () => {
    await admin.quit();
    await stack.stop();
    await receiver.close();
  });

  test('requests submitted together share one bundle; each keeps its own id and result, and a bad one fails alone', async () => {
    const ids = [1, 2, 99, 4, 5];
    const res = await request(stack.baseUrl, 'POST', '/v1/jobs/bulk', { jobs: ids.map((id) => ({ model: 'lookup', inputs: lookupInput([id]) })) });
    assert.equal(res.status, 202);
    const jobIds = res.body.jobs.map((j: { job_id: string }) => j.job_id) as string[];
    assert.equal(new Set(jobIds).size, ids.length, 'every request has an id of its own');
    assert.equal(new Set(jobIds.map(bundleOf)).size, 1, 'one queue job carries them all');
    const finished = await Promise.all(jobIds.map((id) => request(stack.baseUrl, 'GET', `/v1/jobs/${id}?wait=20`)));
    finished.forEach((job, i) => {
      assert.equal(job.body.job_id, jobIds[i]);
      if (ids[i] === 99) {
        assert.equal(job.body.status, 'failed');
        assert.equal(job.body.error.code, 'INFERENCE_FAILED');
      } else {
        assert.equal(job.body.status, 'succeeded', JSON.stringify(job.body));
        assert.equal(job.body.result.outputs[0].data[0], (ids[i] as number) * 10);
      }
    });
  });

  test('concurrent single submits for one key are grouped into bundles, and every request is answered', async () => {
    const replies = await Promise.all(Array.from({ length: 300 }, (_, i) => request(stack.baseUrl, 'POST', '/v1/jobs', { model: 'fraud-risk', features: { ...SAFE_TRANSACTION, amount: 10 + i } })));
    assert.ok(replies.every((r) => r.status === 202));
    const bundles = new Set(replies.map((r) => bundleOf(r.body.job_id)));
    assert.ok(bundles.size < replies.length, `300 requests in ${bundles.size} bundles`);
    const done = await Promise.all(replies.map((r) => request(stack.baseUrl, 'GET', `${r.body.poll_url}?wait=30`)));
    assert.deepEqual(new Set(done.map((d) => d.body.status)), new Set(['succeeded']));
    assert.deepEqual(new Set(done.map((d) => d.body.result.label)), new Set(['legit']));
  });

  test('cancel a queued request of a bundle: its neighbours stay queued; cancel them all and the bundle leaves the queue', async () => {
    const res = await request(stack.baseUrl, 'POST', '/v1/jobs/bulk', { jobs: [1, 2, 3].map(() => ({ model: 'wide-mlp', inputs: wideMlpInput(1) })) });
    const [a, b, c] = res.body.jobs.map((j: { job_id: string }) => j.job_id) as [string, string, string];
    const bundleId = bundleOf(a) as string;
    assert.equal(bundleOf(c), bundleId);
    const canceled = await request(stack.baseUrl, 'DELETE', `/v1/jobs/${b}`);
    assert.equal(canceled.status, 200);
    assert.equal(canceled.body.status, 'canceled');
    assert.equal((await request(stack.baseUrl, 'GET', `/v1/jobs/${a}`)).body.status, 'queued');
    assert.equal((await request(stack.baseUrl, 'GET', `/v1/jobs/${b}`)).body.status, 'canceled');
    assert.equal(await admin.exists(`inferq:model-{wide-mlp}:${bundleId}`), 1, 'the bundle still carries queued requests');
    for (const id of [a, c]) assert.equal((await request(stack.baseUrl, 'DELETE', `/v1/jobs/${id}`)).status, 200);
    assert.equal(await admin.exists(`inferq:model-{wide-mlp}:${bundleId}`), 0, 'no request of the bundle is left to run');
    for (const id of [a, b, c]) assert.equal((await request(stack.baseUrl, 'GET', `/v1/jobs/${id}`)).body.status, 'canceled');
  });

  test('cancel a running request: canceled at once, its result discarded when its batch ends, its webhook says job.canceled', async () => {
    const url = receiver.script('/running', []);
    const submitted = await request(stack.baseUrl, 'POST', '/v1/jobs', { model: 'slow-fraud', features: RISKY_TRANSACTION, webhook: { url } });
    let running;
    for (let i = 0; i < 100; i++) {
      running = await request(stack.baseUrl, 'GET', submitted.body.poll_url);
      if (running.body.status === 'running') break;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(running?.body.status, 'running', 'the batcher holds the lone request for 3 s');
    const canceled = await request(stack.baseUrl, 'DELETE', submitted.body.poll_url);
    assert.equal(canceled.status, 200);
    assert.equal(canceled.body.status, 'canceled');
    assert.ok(canceled.body.started_at, 'it had started');
    // A neighbour submitted now joins the same batch and is answered; the canceled one stays canceled.
    const neighbour = await request(stack.baseUrl, 'POST', '/v1/jobs', { model: 'slow-fraud', features: SAFE_TRANSACTION }, { prefer: 'wait=10' });
    assert.equal(neighbour.body.status, 'succeeded');
    const after = await request(stack.baseUrl, 'GET', submitted.body.poll_url);
    assert.deepEqual(after.body, canceled.body, 'the record is the cancel’s, unchanged by the batch that ran');
    const [delivery] = await receiver.waitFor('/running', 1);
    assert.equal(JSON.parse(delivery?.body ?? '{}').type, 'job.canceled');
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(receiver.at('/running').length, 1, 'no job.succeeded follows');
  });

  test('requests that already have a record are never run again: a bundle of them never reaches session.run', async () => {
    const runsBefore = sample(await (await fetch(workerMetricsUrl)).text(), 'inferq_inference_batch_rows_count', { model: 'fraud-risk', version: '2' }) ?? 0;
    const bundleId = newBundleId('fraud-risk', 'default');
    const now = Date.now();
    const requests = [0, 1].map((i) => ({ id: requestId(bundleId, i), inputs: [], response: 'prediction' as const, ttl_ms: 60_000, created_at: now, tenant: 'default' }));
    for (const r of requests) {
      const record: FinishedJobRecord = { job_id: r.id, status: 'canceled', model: 'fraud-risk', model_version: '2', created_at: new Date(now).toISOString(), started_at: null, finished_at: new Date(now).toISOString(), timings: null, batch_size: null, tenant: 'default', expires_at: new Date(now + 60_000).toISOString() };
      await admin.set(`inferq:result:{fraud-risk}:${r.id}`, JSON.stringify(record), 'PX', 60_000);
    }
    const queue = stack.redis.queue<BundlePayload>('model-{fraud-risk}');
    await queue.add('2', { kind: 'bundle', requests }, { jobId: bundleId, removeOnComplete: true, removeOnFail: true });
    await queue.close();
    for (let i = 0; i < 200 && (await admin.exists(`inferq:model-{fraud-risk}:${bundleId}`)); i++) await new Promise((r) => setTimeout(r, 25));
    assert.equal(await admin.exists(`inferq:model-{fraud-risk}:${bundleId}`), 0, 'a worker took and completed the bundle');
    for (const r of requests) assert.equal((await request(stack.baseUrl, 'GET', `/v1/jobs/${r.id}`)).body.status, 'canceled');
    const runsAfter = sample(await (await fetch(workerMetricsUrl)).text(), 'inferq_inference_batch_rows_count', { model: 'fraud-risk', version: '2' }) ?? 0;
    assert.equal(runsAfter, runsBefore, 'no session.run for requests that were already finished');
  });

  test('an idempotent replay lands on the same request while other requests share its bundle', async () => {
    const key = `bundle-${Date.now()}`;
    const body = { model: 'fraud-risk', features: RISKY_TRANSACTION };
    const replies = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        i % 2 === 0 ? request(stack.baseUrl, 'POST', '/v1/jobs', body, { 'idempotency-key': key }) : request(stack.baseUrl, 'POST', '/v1/jobs', { model: 'fraud-risk', features: SAFE_TRANSACTION }),
      ),
    );
    const keyed = replies.filter((_, i) => i % 2 === 0);
    assert.equal(new Set(keyed.map((r) => r.body.job_id)).size, 1, 'one request for the key');
    assert.equal(keyed.filter((r) => r.headers.get('idempotent-replayed') === 'true').length, 19);
    const others = replies.filter((_, i) => i % 2 === 1);
    assert.equal(new Set(others.map((r) => r.body.job_id)).size, 20);
    const done = await Promise.all([keyed[0], ...others].map((r) => request(stack.baseUrl, 'GET', `${r?.body.poll_url}?wait=20`)));
    assert.deepEqual(new Set(done.map((d) => d.body.status)), new Set(['succeeded']));
    assert.equal(done[0]?.body.result.label, 'fraud');
  });
});

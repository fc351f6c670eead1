import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freePort } from '../../scripts/lib/local-redis.ts';
import { lookupInput, request, RISKY_TRANSACTION, SAFE_TRANSACTION, submitAndWait } from '../support/http.ts';
import { copyModel, startService, startStack, testModelDir, type Stack } from '../support/services.ts';
import { WebhookReceiver } from '../support/webhook-receiver.ts';
import { sample } from '../support/prometheus.ts';


async function scrape(base: string): Promise<string> {
  const res = await fetch(`${base}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return res.text();
}

/** Scrapes until `ready` holds (a delivery attempt is counted just after the receiver answers); bounded. */
async function scrapeUntil(base: string, ready: (text: string) => boolean): Promise<string> {
  let text = '';
  for (let i = 0; i < 100; i++) {
    text = await scrape(base);
    if (ready(text)) return text;
    await new Promise((r) => setTimeout(r, 100));
  }
  return text;
}

describe('metrics from real API and worker processes', () => {
  let stack: Stack;
  let receiver: WebhookReceiver;
  let workerBase: string;
  before(async () => {
    receiver = await WebhookReceiver.start();
    const healthPort = await freePort();
    workerBase = `http://127.0.0.1:${healthPort}`;
    stack = await startStack({
      env: { INFERQ_WEBHOOK_ALLOW_CIDRS: '127.0.0.1/32', INFERQ_METRICS_CACHE_MS: '0' },
      workerEnv: { INFERQ_MODELS: 'fraud-risk,lookup', INFERQ_WORKER_HEALTH_PORT: String(healthPort) },
    });
  });
  after(async () => {
    await stack.stop();
    await receiver.close();
  });

  test('the worker counts outcomes, latencies, batches, batch rows and webhooks; the API counts submits and sees the worker', async () => {
    assert.equal((await submitAndWait(stack.baseUrl, { model: 'fraud-risk', version: '1', features: SAFE_TRANSACTION })).body.status, 'succeeded');
    const hooked = await submitAndWait(stack.baseUrl, { model: 'fraud-risk', features: RISKY_TRANSACTION, webhook: { url: `${receiver.baseUrl}/hook` } });
    assert.equal(hooked.body.status, 'succeeded');
    assert.equal(hooked.body.model_version, '2');
    const bad = await submitAndWait(stack.baseUrl, { model: 'lookup', inputs: lookupInput([99]) });
    assert.equal(bad.body.error.code, 'INFERENCE_FAILED');
    const { amount: _drop, ...missingAmount } = SAFE_TRANSACTION;
    const batch = await request(stack.baseUrl, 'POST', '/v1/batches', { model: 'fraud-risk', version: '2', rows: [{ features: SAFE_TRANSACTION }, { features: RISKY_TRANSACTION }, { features: missingAmount }] });
    assert.equal(batch.status, 202);
    const done = await request(stack.baseUrl, 'GET', `/v1/batches/${batch.body.batch_id}?wait=30`);
    assert.deepEqual([done.body.status, done.body.succeeded, done.body.failed], ['succeeded', 2, 1]);
    await receiver.waitFor('/hook', 1);

    // The chunk's rows are counted once its record (and the batch's end) is written, which a poll may see first.
    const worker = await scrapeUntil(
      workerBase,
      (t) => sample(t, 'inferq_webhook_deliveries_total', { event: 'job.succeeded', outcome: 'succeeded' }) === 1 && sample(t, 'inferq_batch_rows_scored_total', { model: 'fraud-risk', version: '2', outcome: 'failed' }) === 1,
    );
    assert.equal(sample(worker, 'inferq_jobs_finished_total', { model: 'fraud-risk', version: '1', outcome: 'succeeded', code: 'none' }), 1);
    assert.equal(sample(worker, 'inferq_jobs_finished_total', { model: 'fraud-risk', version: '2', outcome: 'succeeded', code: 'none' }), 1);
    assert.equal(sample(worker, 'inferq_jobs_finished_total', { model: 'lookup', version: '1', outcome: 'failed', code: 'INFERENCE_FAILED' }), 1);
    assert.equal(sample(worker, 'inferq_submit_to_result_seconds_count', { model: 'fraud-risk', version: '2', outcome: 'succeeded' }), 1);
    assert.equal(sample(worker, 'inferq_submit_to_result_seconds_count', { model: 'lookup', version: '1', outcome: 'failed' }), 1);
    assert.equal(sample(worker, 'inferq_queue_wait_seconds_count', { model: 'fraud-risk', version: '1' }), 1);
    // Every session.run is timed and its rows counted: v2 ran the single job and the batch's two valid rows.
    assert.ok((sample(worker, 'inferq_inference_seconds_count', { model: 'fraud-risk', version: '2' }) ?? 0) >= 1);
    assert.equal(sample(worker, 'inferq_inference_batch_rows_sum', { model: 'fraud-risk', version: '2' }), 3);
    assert.equal(sample(worker, 'inferq_inference_batch_rows_bucket', { model: 'fraud-risk', version: '2', le: '+Inf' }), sample(worker, 'inferq_inference_seconds_count', { model: 'fraud-risk', version: '2' }));
    assert.equal(sample(worker, 'inferq_batch_rows_scored_total', { model: 'fraud-risk', version: '2', outcome: 'succeeded' }), 2);
    assert.equal(sample(worker, 'inferq_batch_rows_scored_total', { model: 'fraud-risk', version: '2', outcome: 'failed' }), 1);
    assert.equal(sample(worker, 'inferq_webhook_attempt_seconds_count', { outcome: 'succeeded' }), 1);
    assert.equal(sample(worker, 'inferq_model_version_ready', { model: 'fraud-risk', version: '1' }), 1);
    assert.ok(sample(worker, 'nodejs_eventloop_lag_p99_seconds') !== undefined);

    const api = await scrape(stack.baseUrl);
    assert.equal(sample(api, 'inferq_jobs_submitted_total', { model: 'fraud-risk', version: '1' }), 1);
    assert.equal(sample(api, 'inferq_jobs_submitted_total', { model: 'fraud-risk', version: '2' }), 1);
    assert.equal(sample(api, 'inferq_jobs_submitted_total', { model: 'lookup', version: '1' }), 1);
    assert.equal(sample(api, 'inferq_model_workers', { model: 'fraud-risk', version: '2' }), 1);
    assert.equal(sample(api, 'inferq_model_workers', { model: 'wide-mlp', version: '1' }), 0, 'no worker serves wide-mlp');
    assert.equal(sample(api, 'inferq_queue_backlog_per_worker', { model: 'fraud-risk' }), 0);
  });

  test('worker /readyz is 503 while a configured version is not loaded; /healthz stays 200', async () => {
    assert.equal((await request(workerBase, 'GET', '/readyz')).status, 200);
    const fraud = copyModel('fraud-risk');
    const manifestPath = path.join(fraud, '2', 'model.json');
    writeFileSync(manifestPath, JSON.stringify({ ...JSON.parse(readFileSync(manifestPath, 'utf8')), sha256: '0'.repeat(64) }));
    const healthPort = await freePort();
    const broken = await startService('worker', {
      env: { ...stack.env, INFERQ_MODEL_DIR: testModelDir({ 'fraud-risk': fraud }), INFERQ_MODELS: 'fraud-risk', INFERQ_WORKER_HEALTH_PORT: String(healthPort) },
    });
    try {
      const base = `http://127.0.0.1:${healthPort}`;
      assert.equal((await request(base, 'GET', '/healthz')).status, 200);
      const ready = await request(base, 'GET', '/readyz');
      assert.equal(ready.status, 503);
      assert.equal(ready.body.status, 'not_ready');
      assert.deepEqual(ready.body.versions.map((v: { version: string; state: string }) => `${v.version}:${v.state}`).sort(), ['1:ready', '2:failed']);
      const metrics = await scrape(base);
      assert.equal(sample(metrics, 'inferq_model_version_ready', { model: 'fraud-risk', version: '1' }), 1);
      assert.equal(sample(metrics, 'inferq_model_version_ready', { model: 'fraud-risk', version: '2' }), 0);
    } finally {
      await broken.stop('SIGKILL');
    }
  });
});

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { lookupInput, request, RISKY_TRANSACTION, SAFE_TRANSACTION, submitAndWait, wideMlpInput } from '../support/http.ts';
import { startStack, type Stack } from '../support/services.ts';
import { newJobId } from '../../packages/core/src/job-id.ts';
import type { JobPayload } from '../../packages/core/src/job-types.ts';

describe('job pipeline over HTTP (redis + api + worker processes)', () => {
  let stack: Stack;
  before(async () => {
    // The worker serves every model but wide-mlp, so wide-mlp jobs stay queued for the cancel tests.
    stack = await startStack({ workerEnv: { INFERQ_MODELS: 'fraud-risk,lookup' } });
  });
  after(() => stack.stop());

  test('features form: 202 with job_id, poll_url and Location, then the prediction', async () => {
    const submitted = await request(stack.baseUrl, 'POST', '/v1/jobs', { model: 'fraud-risk', features: RISKY_TRANSACTION });
    assert.equal(submitted.status, 202);
    assert.equal(submitted.body.status, 'queued');
    assert.equal(submitted.body.model, 'fraud-risk');
    assert.match(submitted.body.job_id, /^fraud-risk\.[0-9A-Z]{32}$/);
    assert.equal(submitted.body.poll_url, `/v1/jobs/${submitted.body.job_id}`);
    assert.equal(submitted.headers.get('location'), submitted.body.poll_url);
    assert.ok(Date.parse(submitted.body.created_at) > 0);

    // Plain polling, as a client without long-poll would do.
    let job;
    for (let i = 0; i < 100; i++) {
      job = await request(stack.baseUrl, 'GET', submitted.body.poll_url);
      assert.equal(job.status, 200);
      if (job.body.status === 'succeeded') break;
      assert.ok(['queued', 'running'].includes(job.body.status));
      assert.equal(job.headers.get('retry-after'), '1');
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(job?.body.status, 'succeeded');
    assert.equal(job?.body.result.label, 'fraud');
    assert.ok(job?.body.result.probability > 0.5);
    assert.equal(job?.body.model_version, '2', 'a job naming no version runs on the newest');
    for (const field of ['queue_ms', 'inference_ms', 'total_ms']) assert.equal(typeof job?.body.timings[field], 'number');
    assert.ok(job?.body.started_at && job?.body.finished_at);
    assert.ok(job?.body.batch_size >= 1);
  });

  test('long-poll returns as soon as the job ends, with the result', async () => {
    const job = await submitAndWait(stack.baseUrl, { model: 'fraud-risk', version: '1', features: SAFE_TRANSACTION, metadata: { order: 'A-1' } });
    assert.equal(job.status, 200);
    assert.equal(job.body.status, 'succeeded');
    assert.equal(job.body.model_version, '1');
    assert.equal(job.body.result.label, 'legit');
    assert.deepEqual(job.body.metadata, { order: 'A-1' });
    assert.equal(job.headers.get('retry-after'), null);
  });

  test('Prefer: wait=N answers the finished job in one exchange, or 202 when it does not end in time', async () => {
    const done = await request(stack.baseUrl, 'POST', '/v1/jobs', { model: 'fraud-risk', features: RISKY_TRANSACTION }, { prefer: 'wait=10' });
    assert.equal(done.status, 200);
    assert.equal(done.body.status, 'succeeded');
    assert.equal(done.body.result.label, 'fraud');
    assert.equal(done.headers.get('preference-applied'), 'wait=10');
    assert.equal(done.headers.get('location'), `/v1/jobs/${done.body.job_id}`);
    const again = await request(stack.baseUrl, 'GET', `/v1/jobs/${done.body.job_id}`);
    assert.deepEqual(again.body, done.body, 'the same record GET gives');

    // No worker serves wide-mlp in this stack: the wait runs out and the job stays queued.
    const started = Date.now();
    const pending = await request(stack.baseUrl, 'POST', '/v1/jobs', { model: 'wide-mlp', inputs: wideMlpInput(1) }, { prefer: 'respond-async, wait=1' });
    assert.ok(Date.now() - started >= 950, 'held for the wait');
    assert.equal(pending.status, 202);
    assert.equal(pending.body.status, 'queued');
    assert.equal(pending.body.poll_url, `/v1/jobs/${pending.body.job_id}`);
    assert.equal(pending.headers.get('retry-after'), '1');

    const unreadable = await request(stack.baseUrl, 'POST', '/v1/jobs', { model: 'wide-mlp', inputs: wideMlpInput(1) }, { prefer: 'wait=soon' });
    assert.equal(unreadable.status, 202, 'a preference the API cannot read is ignored');
    assert.equal(unreadable.headers.get('preference-applied'), null);
    await request(stack.baseUrl, 'DELETE', pending.body.poll_url);
    await request(stack.baseUrl, 'DELETE', unreadable.body.poll_url);
  });

  test('tensor form: V2 outputs; a list of feature rows gives a list of predictions', async () => {
    const tensors = await submitAndWait(stack.baseUrl, {
      model: 'fraud-risk',
      inputs: [{ name: 'features', datatype: 'FP32', shape: [2, 8], data: [Object.values(RISKY_TRANSACTION), Object.values(SAFE_TRANSACTION)] }],
    });
    assert.equal(tensors.body.status, 'succeeded');
    const [output] = tensors.body.result.outputs;
    assert.equal(output.name, 'probability');
    assert.equal(output.datatype, 'FP32');
    assert.deepEqual(output.shape, [2, 1]);
    assert.ok(output.data[0] > 0.5 && output.data[1] < 0.5);

    const rows = await submitAndWait(stack.baseUrl, { model: 'fraud-risk', features: [RISKY_TRANSACTION, SAFE_TRANSACTION] });
    assert.deepEqual(rows.body.result.predictions.map((p: { label: string }) => p.label), ['fraud', 'legit']);
    assert.ok(Math.abs(rows.body.result.predictions[0].probability - output.data[0]) < 1e-5, 'both input forms give the same score');
  });

  test('200 concurrent jobs all succeed, and the worker batched some of them', async () => {
    const submitted = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        request(stack.baseUrl, 'POST', '/v1/jobs', { model: 'fraud-risk', features: { ...SAFE_TRANSACTION, amount: 10 + i } }),
      ),
    );
    assert.ok(submitted.every((s) => s.status === 202));
    const finished = await Promise.all(submitted.map((s) => request(stack.baseUrl, 'GET', `${s.body.poll_url}?wait=30`)));
    assert.deepEqual(new Set(finished.map((f) => f.body.status)), new Set(['succeeded']));
    assert.ok(Math.max(...finished.map((f) => f.body.batch_size)) > 1, 'at least one batch held more than one job');
  });

  test('a bad item inside a batch fails alone with its code; its neighbours succeed', async () => {
    // lookup's table has 16 rows: id 99 makes onnxruntime throw for the batch it is in.
    const ids = [1, 2, 3, 99, 4, 5, 6, 7];
    const submitted = await Promise.all(ids.map((id) => request(stack.baseUrl, 'POST', '/v1/jobs', { model: 'lookup', inputs: lookupInput([id]) })));
    const finished = await Promise.all(submitted.map((s) => request(stack.baseUrl, 'GET', `${s.body.poll_url}?wait=30`)));
    finished.forEach((job, i) => {
      if (ids[i] === 99) {
        assert.equal(job.body.status, 'failed');
        assert.equal(job.body.error.code, 'INFERENCE_FAILED');
        assert.equal(job.body.result, undefined);
      } else {
        assert.equal(job.body.status, 'succeeded', `job for id ${ids[i]}: ${JSON.stringify(job.body)}`);
        assert.deepEqual(job.body.result.outputs[0].shape, [1, 1, 4]);
      }
    });
    assert.ok(Math.max(...finished.map((f) => f.body.batch_size ?? 0)) > 1, 'the jobs were batched together');
    // The worker still serves afterwards.
    const after = await submitAndWait(stack.baseUrl, { model: 'lookup', inputs: lookupInput([3]) });
    assert.equal(after.body.status, 'succeeded');
  });

  test('DELETE cancels a queued job; a second DELETE is 409; GET says canceled', async () => {
    const submitted = await request(stack.baseUrl, 'POST', '/v1/jobs', { model: 'wide-mlp', inputs: wideMlpInput(1) });
    assert.equal(submitted.status, 202);
    const queued = await request(stack.baseUrl, 'GET', submitted.body.poll_url);
    assert.equal(queued.body.status, 'queued');
    const canceled = await request(stack.baseUrl, 'DELETE', submitted.body.poll_url);
    assert.equal(canceled.status, 200);
    assert.equal(canceled.body.status, 'canceled');
    const again = await request(stack.baseUrl, 'DELETE', submitted.body.poll_url);
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, 'JOB_NOT_CANCELABLE');
    const job = await request(stack.baseUrl, 'GET', submitted.body.poll_url);
    assert.equal(job.body.status, 'canceled');
  });

  test('a long-poll on a queued job is woken by its cancellation', async () => {
    const submitted = await request(stack.baseUrl, 'POST', '/v1/jobs', { model: 'wide-mlp', inputs: wideMlpInput(1) });
    const started = Date.now();
    const held = request(stack.baseUrl, 'GET', `${submitted.body.poll_url}?wait=20`);
    await new Promise((r) => setTimeout(r, 300));
    await request(stack.baseUrl, 'DELETE', submitted.body.poll_url);
    const job = await held;
    assert.equal(job.body.status, 'canceled');
    assert.ok(Date.now() - started < 10_000, 'the held request returned on the event, not at its timeout');
  });

  test('a long-poll that runs out returns the pending job with Retry-After', async () => {
    const submitted = await request(stack.baseUrl, 'POST', '/v1/jobs', { model: 'wide-mlp', inputs: wideMlpInput(1) });
    const job = await request(stack.baseUrl, 'GET', `${submitted.body.poll_url}?wait=0.5`);
    assert.equal(job.status, 200);
    assert.equal(job.body.status, 'queued');
    assert.equal(job.headers.get('retry-after'), '1');
  });

  test('Idempotency-Key: same key and body give the same job, even 50 at once; another body is 422', async () => {
    const body = { model: 'fraud-risk', features: RISKY_TRANSACTION };
    const headers = { 'idempotency-key': `order-${Date.now()}` };
    const replies = await Promise.all(Array.from({ length: 50 }, () => request(stack.baseUrl, 'POST', '/v1/jobs', body, headers)));
    assert.ok(replies.every((r) => r.status === 202));
    const ids = new Set(replies.map((r) => r.body.job_id));
    assert.equal(ids.size, 1, 'every submit got the same job');
    assert.equal(replies.filter((r) => r.headers.get('idempotent-replayed') === 'true').length, 49);
    const job = await request(stack.baseUrl, 'GET', `/v1/jobs/${[...ids][0]}?wait=20`);
    assert.equal(job.body.status, 'succeeded');

    // Key order and spacing do not make another body; a changed value does.
    const reordered = await request(stack.baseUrl, 'POST', '/v1/jobs', JSON.stringify({ features: RISKY_TRANSACTION, model: 'fraud-risk' }, null, 2), headers);
    assert.equal(reordered.body.job_id, [...ids][0]);
    const changed = await request(stack.baseUrl, 'POST', '/v1/jobs', { ...body, features: SAFE_TRANSACTION }, headers);
    assert.equal(changed.status, 422);
    assert.equal(changed.body.error.code, 'IDEMPOTENCY_KEY_REUSED');
  });

  test('a result expires exactly at its TTL: 404 afterwards, not a pending job', async () => {
    const job = await submitAndWait(stack.baseUrl, { model: 'fraud-risk', features: SAFE_TRANSACTION, ttl_seconds: 1 });
    assert.equal(job.body.status, 'succeeded');
    const expiresAt = Date.parse(job.body.expires_at);
    assert.ok(expiresAt - Date.parse(job.body.finished_at) === 1000);
    await new Promise((r) => setTimeout(r, Math.max(0, expiresAt - Date.now()) + 50));
    const gone = await request(stack.baseUrl, 'GET', `/v1/jobs/${job.body.job_id}`);
    assert.equal(gone.status, 404);
    assert.equal(gone.body.error.code, 'JOB_NOT_FOUND');
  });

  test('bad input gets its code and never reaches the worker, which keeps serving', async () => {
    const cases: [unknown, number, string][] = [
      [{ model: 'nope', features: SAFE_TRANSACTION }, 404, 'MODEL_NOT_FOUND'],
      [{ model: 'fraud-risk', version: '9', features: SAFE_TRANSACTION }, 404, 'MODEL_VERSION_NOT_FOUND'],
      [{ model: 'fraud-risk', inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 7], data: [1, 2, 3, 4, 5, 6, 7] }] }, 422, 'INPUT_SHAPE_MISMATCH'],
      [{ model: 'fraud-risk', inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 8], data: [1, 2, 3] }] }, 422, 'INPUT_SHAPE_MISMATCH'],
      [{ model: 'fraud-risk', inputs: [{ name: 'features', datatype: 'INT64', shape: [1, 8], data: [1, 2, 3, 4, 5, 6, 7, 8] }] }, 422, 'INPUT_DATATYPE_MISMATCH'],
      [{ model: 'fraud-risk', inputs: [{ name: 'feats', datatype: 'FP32', shape: [1, 8], data: [1, 2, 3, 4, 5, 6, 7, 8] }] }, 422, 'INPUT_UNKNOWN'],
      [{ model: 'fraud-risk', inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 8], data: [1, 2, 3, 'NaN', 5, 6, 7, 8] }] }, 422, 'INPUT_VALUE_INVALID'],
      [{ model: 'fraud-risk', features: { ...SAFE_TRANSACTION, amount: undefined } }, 422, 'FEATURE_MISSING'],
      [{ model: 'fraud-risk', features: { ...SAFE_TRANSACTION, colour: 1 } }, 422, 'FEATURE_UNKNOWN'],
      [{ model: 'fraud-risk', features: { ...SAFE_TRANSACTION, amount: 'lots' } }, 422, 'INPUT_VALUE_INVALID'],
      [{ model: 'lookup', features: { id: 1 } }, 422, 'FEATURES_NOT_SUPPORTED'],
      [{ model: 'lookup', inputs: lookupInput([1.5]) }, 422, 'INPUT_VALUE_INVALID'],
      [{ model: 'fraud-risk' }, 400, 'INVALID_REQUEST'],
      [{ model: 'fraud-risk', features: SAFE_TRANSACTION, ttl_seconds: 0 }, 400, 'INVALID_REQUEST'],
      [{ model: 'fraud-risk', features: SAFE_TRANSACTION, colour: 'red' }, 400, 'INVALID_REQUEST'],
      ['{"model": "fraud-risk", ', 400, 'MALFORMED_JSON'],
    ];
    for (const [body, status, code] of cases) {
      const res = await request(stack.baseUrl, 'POST', '/v1/jobs', body);
      assert.equal(res.status, status, `${JSON.stringify(body)} → ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.code, code);
      assert.equal(typeof res.body.error.message, 'string');
      assert.ok(res.headers.get('x-request-id'));
    }
    const ok = await submitAndWait(stack.baseUrl, { model: 'fraud-risk', features: SAFE_TRANSACTION });
    assert.equal(ok.body.status, 'succeeded');
  });

  test('jobs queued by another producer, with tensors as JSON numbers or wrongly packed, run or fail alone', async () => {
    // What a job queued before tensors were packed, or by a producer of its own, looks like.
    const queue = stack.redis.queue<JobPayload>('model-{fraud-risk}');
    const job = (inputs: JobPayload['inputs']): { name: string; data: JobPayload; opts: { jobId: string; removeOnComplete: boolean; removeOnFail: boolean } } => ({
      name: '2',
      data: { inputs, response: 'outputs', ttl_ms: 60_000, created_at: Date.now(), tenant: 'default' },
      opts: { jobId: newJobId('fraud-risk', 'default'), removeOnComplete: true, removeOnFail: true },
    });
    const numbers = job([{ name: 'features', datatype: 'FP32', shape: [1, 8], data: Object.values(RISKY_TRANSACTION) }]);
    const short = job([{ name: 'features', datatype: 'FP32', shape: [1, 8], bytes: Buffer.alloc(12).toString('base64') }]);
    await queue.addBulk([numbers, short]);
    await queue.close();

    const viaApi = await submitAndWait(stack.baseUrl, { model: 'fraud-risk', version: '2', inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 8], data: Object.values(RISKY_TRANSACTION) }] });
    const fromNumbers = await request(stack.baseUrl, 'GET', `/v1/jobs/${numbers.opts.jobId}?wait=30`);
    assert.equal(fromNumbers.body.status, 'succeeded');
    assert.deepEqual(fromNumbers.body.result, viaApi.body.result, 'numbers and packed bytes give the same answer');
    const fromShort = await request(stack.baseUrl, 'GET', `/v1/jobs/${short.opts.jobId}?wait=30`);
    assert.equal(fromShort.body.status, 'failed');
    assert.equal(fromShort.body.error.code, 'INPUT_SHAPE_MISMATCH');
    assert.match(fromShort.body.error.message, /12 bytes for shape \[1,8\] of FP32 \(32 expected\)/);
  });

  test('bulk submit: every job checked on its own, bad ones fail in place, the rest run', async () => {
    const res = await request(stack.baseUrl, 'POST', '/v1/jobs/bulk', {
      jobs: [
        { model: 'fraud-risk', features: RISKY_TRANSACTION },
        { model: 'fraud-risk', features: { amount: 1 } },
        { features: SAFE_TRANSACTION },
        { model: 'fraud-risk', features: SAFE_TRANSACTION, priority: 1 },
      ],
    });
    assert.equal(res.status, 202);
    const [first, missing, noModel, last] = res.body.jobs;
    assert.equal(missing.error.code, 'FEATURE_MISSING');
    assert.equal(noModel.error.code, 'INVALID_REQUEST');
    const done = await Promise.all([first, last].map((j) => request(stack.baseUrl, 'GET', `${j.poll_url}?wait=20`)));
    assert.deepEqual(done.map((d) => d.body.result.label), ['fraud', 'legit']);
  });

  test('unknown and malformed job ids are 404', async () => {
    for (const id of ['fraud-risk.01M87MDTB3PNGHXNGA8VGPR9WM', 'nope', 'unknown-model.01M87MDTB3PNGHXNGA8VGPR9WM']) {
      const res = await request(stack.baseUrl, 'GET', `/v1/jobs/${id}`);
      assert.equal(res.status, 404);
      assert.equal(res.body.error.code, 'JOB_NOT_FOUND');
      const del = await request(stack.baseUrl, 'DELETE', `/v1/jobs/${id}`);
      assert.equal(del.status, 404);
    }
  });

  test('GET /v1/models shows versions, inputs, batching and load state from live workers', async () => {
    const res = await request(stack.baseUrl, 'GET', '/v1/models');
    assert.equal(res.status, 200);
    const fraud = res.body.models.find((m: { name: string }) => m.name === 'fraud-risk');
    assert.equal(fraud.default_version, '2');
    assert.deepEqual(fraud.versions.map((v: { version: string }) => v.version), ['1', '2']);
    const v2 = fraud.versions[1];
    assert.equal(v2.state, 'loaded');
    assert.equal(v2.inputs[0].name, 'features');
    assert.equal(v2.features.length, 8);
    assert.deepEqual(v2.batching, { max_batch_size: 64, max_wait_ms: 5 });
    assert.equal(v2.workers.ready, 1);
    assert.deepEqual(v2.workers.execution_providers, ['cpu']);
    const wide = await request(stack.baseUrl, 'GET', '/v1/models/wide-mlp');
    assert.equal(wide.body.versions[0].state, 'available', 'no live worker serves wide-mlp in this test');
    const missing = await request(stack.baseUrl, 'GET', '/v1/models/nope');
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.code, 'MODEL_NOT_FOUND');
  });

  test('health endpoints', async () => {
    const health = await request(stack.baseUrl, 'GET', '/healthz');
    assert.equal(health.status, 200);
    const ready = await request(stack.baseUrl, 'GET', '/readyz');
    assert.equal(ready.status, 200);
    assert.equal(ready.body.redis, 'ok');
  });
});

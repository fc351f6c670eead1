import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { request, SAFE_TRANSACTION, submitAndWait, type JsonResponse } from '../support/http.ts';
import { copyModel, REPO_ROOT, startStack, testModelDir, type Stack } from '../support/services.ts';

const ids = (values: number[]) => [{ name: 'ids', datatype: 'INT64', shape: [values.length, 1], data: values }];
/** What every canary version answers for an id it can look up: table[id] = [10 id, 10 id + 1, ...]. */
const expected = (id: number) => [10 * id, 10 * id + 1, 10 * id + 2, 10 * id + 3];

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('versions and routing (redis + api + worker processes)', () => {
  let stack: Stack;
  let fraud: string;
  const routing = () => request(stack.baseUrl, 'GET', '/v1/models/canary/routing');
  const putRouting = (model: string, policy: unknown) => request(stack.baseUrl, 'PUT', `/v1/models/${model}/routing`, policy);
  const wait = (jobId: string) => request(stack.baseUrl, 'GET', `/v1/jobs/${jobId}?wait=30`);

  before(async () => {
    fraud = copyModel('fraud-risk');
    stack = await startStack({
      env: {
        INFERQ_MODEL_DIR: testModelDir({ canary: path.join(REPO_ROOT, 'test/fixtures/models/canary'), 'fraud-risk': fraud }),
        INFERQ_GUARDRAIL_INTERVAL_MS: '300',
        INFERQ_MODEL_RESCAN_MS: '500',
      },
      workerEnv: { INFERQ_MODELS: 'canary,fraud-risk' },
    });
  });
  after(() => stack.stop());

  test('default policy: 100 % to the newest version; a policy must be consistent and loaded', async () => {
    const status = await routing();
    assert.equal(status.status, 200);
    assert.equal(status.body.source, 'default');
    assert.deepEqual(status.body.weights, { '3': 100 });
    const job = await submitAndWait(stack.baseUrl, { model: 'canary', inputs: ids([1]) });
    assert.equal(job.body.model_version, '3');
    assert.equal(job.body.routed_by, 'weight');
    const pinned = await submitAndWait(stack.baseUrl, { model: 'canary', version: '1', inputs: ids([1]) });
    assert.equal(pinned.body.routed_by, 'pinned');

    for (const [policy, code] of [
      [{ weights: { '1': 90, '2': 9 } }, 'ROUTING_INVALID'],
      [{ weights: { '1': 90, '9': 10 } }, 'ROUTING_INVALID'],
      [{ weights: { '1': 100 }, shadow: '1' }, 'ROUTING_INVALID'],
      [{ weights: { '1': 100 }, speed: 'fast' }, 'ROUTING_INVALID'],
    ] as const) {
      const res = await putRouting('canary', policy);
      assert.equal(res.status, 422, JSON.stringify(res.body));
      assert.equal(res.body.error.code, code);
    }
    assert.equal((await putRouting('nope', { weights: { '1': 100 } })).status, 404);
  });

  test('weights 90/10 over 2,000 jobs split within binomial tolerance; every result says its version and why', async () => {
    const put = await putRouting('canary', { weights: { '1': 90, '2': 10 }, guardrails: { enabled: false } });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.equal(put.body.source, 'admin');
    const routedTo = new Map<string, number>();
    const jobs: { job_id: string; model_version: string; routed_by: string }[] = [];
    for (let call = 0; call < 2; call++) {
      const bulk = await request(stack.baseUrl, 'POST', '/v1/jobs/bulk', { jobs: Array.from({ length: 1000 }, (_, i) => ({ model: 'canary', inputs: ids([i % 8]) })) });
      assert.equal(bulk.status, 202);
      for (const job of bulk.body.jobs) {
        assert.equal(job.routed_by, 'weight');
        routedTo.set(job.model_version, (routedTo.get(job.model_version) ?? 0) + 1);
        jobs.push(job);
      }
    }
    // Binomial(2000, 0.1): mean 200, sd ≈ 13.4; 5 sd either side (a false failure about once in 3.5 million runs).
    const canary = routedTo.get('2') ?? 0;
    assert.equal((routedTo.get('1') ?? 0) + canary, 2000);
    assert.ok(Math.abs(canary - 200) <= 67, `version 2 got ${canary} of 2000 jobs`);
    // Every job ran where it was routed: the versions' health windows count them.
    const health = await until('2,000 jobs to finish', async () => {
      const h = (await routing()).body.health.versions;
      return (h['1']?.requests ?? 0) + (h['2']?.requests ?? 0) >= 2000 + 1 ? h : undefined;
    }, 120_000);
    assert.equal(health['2'].requests, canary);
    assert.equal(health['2'].errors, 0);
    for (const job of jobs.filter((_, i) => i % 100 === 0)) {
      const done = await wait(job.job_id);
      assert.equal(done.body.status, 'succeeded');
      assert.equal(done.body.model_version, job.model_version);
      assert.equal(done.body.routed_by, 'weight');
    }
  });

  test('a routing key always lands on the same version while the weights stand', async () => {
    assert.equal((await putRouting('canary', { weights: { '1': 50, '2': 50 }, guardrails: { enabled: false } })).status, 200);
    const seen = new Set<string>();
    for (let user = 0; user < 30; user++) {
      const replies = await Promise.all(Array.from({ length: 5 }, () => request(stack.baseUrl, 'POST', '/v1/jobs', { model: 'canary', routing_key: `user-${user}`, inputs: ids([2]) })));
      const versions = new Set(replies.map((r) => r.body.model_version));
      assert.equal(versions.size, 1, `user-${user} went to ${[...versions]}`);
      assert.ok(replies.every((r) => r.body.routed_by === 'sticky'));
      seen.add(replies[0]?.body.model_version);
      if (user === 0) {
        const done = await wait(replies[0]?.body.job_id);
        assert.equal(done.body.routed_by, 'sticky');
        assert.equal(done.body.model_version, replies[0]?.body.model_version);
      }
    }
    assert.deepEqual([...seen].sort(), ['1', '2'], '30 keys at 50/50 reach both versions');
  });

  test("a shadow version's outputs are logged and compared, never returned", async () => {
    assert.equal((await putRouting('canary', { weights: { '1': 100 }, shadow: '2' })).status, 200);
    const inputs = Array.from({ length: 24 }, (_, i) => i % 16);
    const submitted = await Promise.all(inputs.map((id) => request(stack.baseUrl, 'POST', '/v1/jobs', { model: 'canary', inputs: ids([id]) })));
    const finished = await Promise.all(submitted.map((s) => wait(s.body.job_id)));
    finished.forEach((job, i) => {
      assert.equal(job.body.status, 'succeeded', JSON.stringify(job.body));
      assert.equal(job.body.model_version, '1');
      assert.deepEqual(job.body.result.outputs[0].data, expected(inputs[i] as number), "the primary's answer, even where the shadow failed");
    });
    const shadowId = `${submitted[0]?.body.job_id}-shadow`;
    assert.equal((await request(stack.baseUrl, 'GET', `/v1/jobs/${shadowId}`)).status, 404);
    const pair = await until('24 shadow comparisons', async () => {
      const p = (await routing()).body.shadow_comparisons.find((c: { shadow_version: string }) => c.shadow_version === '2');
      return p?.compared >= 24 ? p : undefined;
    });
    assert.equal(pair.primary_version, '1');
    const failing = inputs.filter((id) => id >= 8).length;
    assert.equal(pair.shadow_errors, failing, 'version 2 fails ids 8..15');
    assert.ok(Math.abs(pair.agreement_rate - (24 - failing) / 24) < 1e-9);
    assert.equal(typeof pair.primary_inference_ms.p50, 'number');
    assert.ok(stack.workers[0]?.lines.some((l) => l.includes('"msg":"shadow comparison"') && l.includes('"shadow_version":"2"')));
  });

  test('a failing canary falls back per job, then is rolled back automatically with an event; the stable keeps answering', async () => {
    assert.equal((await putRouting('canary', { weights: { '1': 50, '2': 50 }, fallback: '1', guardrails: { min_samples: 20 } })).status, 200);
    const answered: JsonResponse[] = [];
    const rollback = await until('the rollback of version 2', async () => {
      const submitted = await Promise.all(Array.from({ length: 16 }, (_, id) => request(stack.baseUrl, 'POST', '/v1/jobs', { model: 'canary', inputs: ids([id]) })));
      answered.push(...(await Promise.all(submitted.map((s) => wait(s.body.job_id)))));
      return (await routing()).body.events.find((e: { type: string; version?: string }) => e.type === 'rollback' && e.version === '2');
    });
    for (const job of answered) {
      assert.equal(job.body.status, 'succeeded', JSON.stringify(job.body));
      const id = (job.body.result.outputs[0].data[0] as number) / 10;
      assert.deepEqual(job.body.result.outputs[0].data, expected(id));
    }
    const fellBack = answered.filter((j) => j.body.routed_by === 'fallback');
    assert.ok(fellBack.length > 0, 'version 2 failed some jobs, which version 1 answered');
    for (const job of fellBack) {
      assert.equal(job.body.model_version, '1');
      assert.equal(job.body.fallback_from.version, '2');
      assert.match(job.body.fallback_from.reason, /session\.run failed/);
    }
    assert.equal(rollback.reason, 'error_rate');
    assert.equal(rollback.stable, '1');
    assert.ok(rollback.numbers.canary.error_rate > 0.2 && rollback.numbers.stable.error_rate === 0, JSON.stringify(rollback.numbers));
    assert.ok(rollback.numbers.canary.requests >= 20);
    assert.ok(Date.parse(rollback.at) > 0);

    const model = await request(stack.baseUrl, 'GET', '/v1/models/canary');
    assert.deepEqual(model.body.routing.weights, { '1': 100, '2': 0 });
    assert.equal(model.body.routing.source, 'guardrail');
    assert.ok(model.body.routing.events.some((e: { type: string }) => e.type === 'rollback'), 'the rollback is visible on the model');
    assert.ok(stack.api.lines.some((l) => l.includes('"msg":"canary rolled back"')));
    const afterwards = await Promise.all(Array.from({ length: 16 }, (_, id) => submitAndWait(stack.baseUrl, { model: 'canary', inputs: ids([id]) })));
    assert.ok(afterwards.every((j) => j.body.status === 'succeeded' && j.body.model_version === '1' && j.body.routed_by === 'weight'));
  });

  test('a slow canary is rolled back on its p95 inference latency', async () => {
    assert.equal((await putRouting('canary', { weights: { '1': 75, '3': 25 }, guardrails: { min_samples: 10 } })).status, 200);
    const rollback = await until('the rollback of version 3', async () => {
      const submitted = await Promise.all(Array.from({ length: 8 }, (_, id) => request(stack.baseUrl, 'POST', '/v1/jobs', { model: 'canary', inputs: ids([id]) })));
      const done = await Promise.all(submitted.map((s) => wait(s.body.job_id)));
      assert.ok(done.every((j) => j.body.status === 'succeeded'));
      return (await routing()).body.events.find((e: { type: string; version?: string }) => e.type === 'rollback' && e.version === '3');
    }, 120_000);
    assert.equal(rollback.reason, 'p95_inference_latency');
    assert.ok(rollback.numbers.canary.inference_ms.p95 - rollback.numbers.stable.inference_ms.p95 > 20, JSON.stringify(rollback.numbers));
    assert.deepEqual((await routing()).body.weights, { '1': 100, '3': 0 });
  });

  test('a version added while the service runs takes traffic without a restart; a corrupt one is refused and the old keeps serving', async () => {
    const pids = [stack.api.child.pid, ...stack.workers.map((w) => w.child.pid)];
    cpSync(path.join(fraud, '2'), path.join(fraud, '3'), { recursive: true });
    const loaded = await until('version 3 to load', async () => {
      const model = await request(stack.baseUrl, 'GET', '/v1/models/fraud-risk');
      return model.body.versions.find((v: { version: string; state: string }) => v.version === '3' && v.state === 'loaded');
    });
    assert.equal(loaded.workers.ready, 1);
    const job = await submitAndWait(stack.baseUrl, { model: 'fraud-risk', features: SAFE_TRANSACTION });
    assert.equal(job.body.status, 'succeeded');
    assert.equal(job.body.model_version, '3', 'the default policy sends traffic to the newest version');
    assert.ok(stack.workers[0]?.lines.some((l) => l.includes('"msg":"new model version found: loading it"')));

    // Version 4: the same manifest over a damaged artifact. An admin call asks for the rescan at once.
    cpSync(path.join(fraud, '2'), path.join(fraud, '4'), { recursive: true });
    const artifact = path.join(fraud, '4', 'model.onnx');
    const bytes = readFileSync(artifact);
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0xff;
    writeFileSync(artifact, bytes);
    const rescan = await request(stack.baseUrl, 'POST', '/v1/models/rescan');
    assert.equal(rescan.status, 202);
    const refused = await until('version 4 to be refused', async () => {
      const model = await request(stack.baseUrl, 'GET', '/v1/models/fraud-risk');
      return model.body.versions.find((v: { version: string; state: string }) => v.version === '4' && v.state === 'refused');
    });
    assert.match(refused.reason, /sha256 mismatch/);
    const still = await submitAndWait(stack.baseUrl, { model: 'fraud-risk', features: SAFE_TRANSACTION });
    assert.equal(still.body.status, 'succeeded');
    assert.equal(still.body.model_version, '3');
    // Version 5: bytes that match their sha256 but are no ONNX graph: the checks pass, the load fails.
    cpSync(path.join(fraud, '2'), path.join(fraud, '5'), { recursive: true });
    const garbage = Buffer.from('not an onnx graph');
    writeFileSync(path.join(fraud, '5', 'model.onnx'), garbage);
    const manifest5 = JSON.parse(readFileSync(path.join(fraud, '5', 'model.json'), 'utf8'));
    manifest5.sha256 = createHash('sha256').update(garbage).digest('hex');
    writeFileSync(path.join(fraud, '5', 'model.json'), JSON.stringify(manifest5));
    await request(stack.baseUrl, 'POST', '/v1/models/rescan');
    const failedLoad = await until('version 5 to fail its load', async () => {
      const model = await request(stack.baseUrl, 'GET', '/v1/models/fraud-risk');
      return model.body.versions.find((v: { version: string; state: string; workers: { failed: unknown[] } }) => v.version === '5' && v.state === 'refused' && v.workers.failed.length > 0);
    });
    assert.equal(failedLoad.workers.ready, 0);
    const notRouted = await Promise.all(Array.from({ length: 10 }, () => submitAndWait(stack.baseUrl, { model: 'fraud-risk', features: SAFE_TRANSACTION })));
    assert.ok(notRouted.every((j) => j.body.status === 'succeeded' && j.body.model_version === '3'), 'a version that failed to load takes no traffic');

    const pinned = await request(stack.baseUrl, 'POST', '/v1/jobs', { model: 'fraud-risk', version: '4', features: SAFE_TRANSACTION });
    assert.equal(pinned.status, 409);
    const put = await putRouting('fraud-risk', { weights: { '3': 90, '4': 10 } });
    assert.equal(put.status, 409);
    assert.equal(put.body.error.code, 'ROUTING_VERSION_NOT_READY');
    // A canary of the hot-loaded version, then: accepted, since a worker has it ready.
    assert.equal((await putRouting('fraud-risk', { weights: { '2': 50, '3': 50 } })).status, 200);
    assert.deepEqual([stack.api.child.pid, ...stack.workers.map((w) => w.child.pid)], pids);
    assert.ok([stack.api, ...stack.workers].every((p) => p.child.exitCode === null), 'no process restarted');
  });

  test('unloading a version drains its queued jobs first; a version the policy uses cannot be unloaded', async () => {
    const inUse = await request(stack.baseUrl, 'DELETE', '/v1/models/fraud-risk/versions/3');
    assert.equal(inUse.status, 409);
    assert.equal(inUse.body.error.code, 'VERSION_IN_USE');
    assert.equal((await request(stack.baseUrl, 'DELETE', '/v1/models/fraud-risk/versions/9')).status, 404);

    const bulk = await request(stack.baseUrl, 'POST', '/v1/jobs/bulk', { jobs: Array.from({ length: 200 }, (_, i) => ({ model: 'fraud-risk', version: '1', features: { ...SAFE_TRANSACTION, amount: i } })) });
    assert.equal(bulk.status, 202);
    const unload = await request(stack.baseUrl, 'DELETE', '/v1/models/fraud-risk/versions/1');
    assert.equal(unload.status, 202);
    assert.equal(unload.body.status, 'draining');
    const refusedNow = await request(stack.baseUrl, 'POST', '/v1/jobs', { model: 'fraud-risk', version: '1', features: SAFE_TRANSACTION });
    assert.equal(refusedNow.status, 409, 'no new jobs for a version being unloaded');
    assert.equal(refusedNow.body.error.code, 'MODEL_VERSION_UNAVAILABLE');
    const finished = await Promise.all(bulk.body.jobs.map((j: { job_id: string }) => wait(j.job_id)));
    assert.ok(finished.every((j) => j.body.status === 'succeeded' && j.body.model_version === '1'), 'every job queued before the unload ran on its version');
    const gone = await until('version 1 to be unloaded by the worker', async () => {
      const model = await request(stack.baseUrl, 'GET', '/v1/models/fraud-risk');
      const v1 = model.body.versions.find((v: { version: string }) => v.version === '1');
      return v1.state === 'unloaded' && v1.workers.ready === 0 ? v1 : undefined;
    });
    assert.equal(gone.reason, 'unloaded by an operator');
    assert.ok(stack.workers[0]?.lines.some((l) => l.includes('"msg":"model version unloaded"') && l.includes('"version":"1"')));
    const served = await submitAndWait(stack.baseUrl, { model: 'fraud-risk', features: SAFE_TRANSACTION });
    assert.equal(served.body.status, 'succeeded', 'the other versions keep serving');
  });
});

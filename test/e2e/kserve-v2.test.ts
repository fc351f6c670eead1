import assert from 'node:assert/strict';
import { mkdtempSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { request, SAFE_TRANSACTION, RISKY_TRANSACTION, wideMlpInput } from '../support/http.ts';
import { REPO_ROOT, startService, startStack, type ServiceProcess, type Stack } from '../support/services.ts';

// Conformance with the Open Inference Protocol's REST spec (kserve/open-inference-protocol,
// specification/protocol/inference_rest.md): every endpoint, request `id` and `parameters`,
// named outputs, binary data off, an unknown model, a bad datatype, and V2 error bodies.

const KEY = 'key-v2-acme-5d1e';
const auth = { authorization: `Bearer ${KEY}` };
const FEATURE_ORDER = ['amount', 'hour_of_day', 'merchant_risk', 'account_age_days', 'txn_count_24h', 'distance_from_home_km', 'is_foreign', 'card_present'] as const;
const featureRow = (t: Record<string, number>) => FEATURE_ORDER.map((name) => t[name] as number);

/** fraud-risk, wide-mlp and two-heads (served), lookup (no worker serves it: not ready). */
function modelDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'inferq-v2-models-'));
  for (const name of ['fraud-risk', 'wide-mlp']) symlinkSync(path.join(REPO_ROOT, 'models', name), path.join(dir, name));
  for (const name of ['two-heads', 'lookup']) symlinkSync(path.join(REPO_ROOT, 'test/fixtures/models', name), path.join(dir, name));
  return dir;
}

/** A V2 error: the status, and a body that is exactly `{"error": "<message>"}`. */
function assertV2Error(res: { status: number; headers: Headers; body: unknown }, status: number, code: string, message?: RegExp) {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.deepEqual(Object.keys(res.body as object), ['error']);
  assert.equal(typeof (res.body as { error: unknown }).error, 'string');
  if (message) assert.match((res.body as { error: string }).error, message);
  assert.equal(res.headers.get('inferq-error-code'), code);
}

describe('KServe V2 / Open Inference Protocol (REST)', () => {
  let stack: Stack;
  let lookupWorker: ServiceProcess | undefined;
  const v2 = (method: string, url: string, body?: unknown, headers: Record<string, string> = {}) => request(stack.baseUrl, method, url, body, { ...auth, ...headers });
  const infer = (model: string, body: unknown, headers: Record<string, string> = {}) => v2('POST', `/v2/models/${model}/infer`, body, headers);

  before(async () => {
    stack = await startStack({
      env: { INFERQ_MODEL_DIR: modelDir(), INFERQ_API_KEYS: `acme:${KEY}` },
      workerEnv: { INFERQ_MODELS: 'fraud-risk,wide-mlp,two-heads' },
    });
  });
  after(async () => {
    await lookupWorker?.stop('SIGKILL');
    await stack.stop();
  });

  test('server metadata: GET /v2 (name, version, extensions); it needs a key like /v1, and answers errors as V2 does', async () => {
    const res = await v2('GET', '/v2');
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { name: 'inferq', version: '0.1.0', extensions: [] });
    assertV2Error(await request(stack.baseUrl, 'GET', '/v2'), 401, 'UNAUTHORIZED');
    assertV2Error(await v2('GET', '/v2/nothing/here'), 404, 'NOT_FOUND');
  });

  test('model metadata: name, versions, platform, inputs and outputs with name, datatype and shape', async () => {
    const res = await v2('GET', '/v2/models/fraud-risk');
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, {
      name: 'fraud-risk',
      versions: ['1', '2'],
      platform: 'onnx_onnxv1',
      inputs: [{ name: 'features', datatype: 'FP32', shape: [-1, 8] }],
      outputs: [{ name: 'probability', datatype: 'FP32', shape: [-1, 1] }],
    });
    const v1 = await v2('GET', '/v2/models/fraud-risk/versions/1');
    assert.equal(v1.status, 200);
    assert.deepEqual(v1.body.versions, ['1']);
    const heads = await v2('GET', '/v2/models/two-heads');
    assert.deepEqual(heads.body.outputs.map((o: { name: string }) => o.name), ['copy', 'negated']);
    assertV2Error(await v2('GET', '/v2/models/no-such-model'), 404, 'MODEL_NOT_FOUND');
    assertV2Error(await v2('GET', '/v2/models/fraud-risk/versions/9'), 404, 'MODEL_VERSION_NOT_FOUND');
  });

  test('liveness is open; readiness (server, model, version) follows the workers', async () => {
    const live = await request(stack.baseUrl, 'GET', '/v2/health/live');
    assert.equal(live.status, 200);
    assert.deepEqual(live.body, { live: true });
    // No worker serves lookup yet: the server is not ready (every model must be), nor is lookup.
    const notReady = await request(stack.baseUrl, 'GET', '/v2/health/ready');
    assert.equal(notReady.status, 503);
    assert.deepEqual(notReady.body, { ready: false });
    assert.deepEqual((await v2('GET', '/v2/models/lookup/ready')).body, { name: 'lookup', ready: false });
    assert.equal((await v2('GET', '/v2/models/lookup/versions/1/ready')).status, 503);
    for (const url of ['/v2/models/fraud-risk/ready', '/v2/models/fraud-risk/versions/1/ready', '/v2/models/fraud-risk/versions/2/ready']) {
      const res = await v2('GET', url);
      assert.equal(res.status, 200, url);
      assert.deepEqual(res.body, { name: 'fraud-risk', ready: true });
    }
    assertV2Error(await v2('GET', '/v2/models/no-such-model/ready'), 404, 'MODEL_NOT_FOUND');
    assertV2Error(await v2('GET', '/v2/models/fraud-risk/versions/9/ready'), 404, 'MODEL_VERSION_NOT_FOUND');
    // Once a worker serves lookup, the server is ready.
    lookupWorker = await startService('worker', { env: { ...stack.env, INFERQ_MODELS: 'lookup' } });
    let ready = await request(stack.baseUrl, 'GET', '/v2/health/ready');
    for (let i = 0; i < 100 && ready.status !== 200; i++) {
      await sleep(100);
      ready = await request(stack.baseUrl, 'GET', '/v2/health/ready');
    }
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.body, { ready: true });
    assert.deepEqual((await v2('GET', '/v2/models/lookup/ready')).body, { name: 'lookup', ready: true });
  });

  test('infer: the request id comes back, parameters are taken, data may be nested, and the answer is what /v1/jobs gives', async () => {
    const rows = [featureRow(RISKY_TRANSACTION), featureRow(SAFE_TRANSACTION)];
    const res = await infer('fraud-risk', {
      id: 'req-42',
      parameters: { priority: 1, routing_key: 'user-7', some_other_server_parameter: true },
      inputs: [{ name: 'features', datatype: 'FP32', shape: [2, 8], data: rows, parameters: { note: 'nested data, natural format' } }],
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.id, 'req-42');
    assert.equal(res.body.model_name, 'fraud-risk');
    assert.equal(res.body.model_version, '2');
    assert.match(res.body.parameters.job_id, /^fraud-risk\./);
    assert.equal(res.body.outputs.length, 1);
    const [output] = res.body.outputs;
    assert.deepEqual([output.name, output.datatype, output.shape], ['probability', 'FP32', [2, 1]]);
    const v1 = await request(stack.baseUrl, 'POST', '/v1/jobs', { model: 'fraud-risk', version: '2', inputs: [{ name: 'features', datatype: 'FP32', shape: [2, 8], data: rows.flat() }] }, { ...auth, prefer: 'wait=30' });
    assert.equal(v1.status, 200);
    assert.deepEqual(output.data, v1.body.result.outputs[0].data);
    // The V2 job is an inferq job like any other.
    const job = await v2('GET', `/v1/jobs/${res.body.parameters.job_id}`);
    assert.equal(job.body.status, 'succeeded');
    // A version in the path pins it; no id in the request, none in the answer.
    const pinned = await v2('POST', '/v2/models/fraud-risk/versions/1/infer', { inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 8], data: rows[1] }] });
    assert.equal(pinned.status, 200);
    assert.equal(pinned.body.model_version, '1');
    assert.equal('id' in pinned.body, false);
  });

  test('the V2 infer of a 64-row wide-mlp tensor matches the same job submitted through /v1/jobs', async () => {
    const inputs = wideMlpInput(64, 0.25);
    const viaV2 = await infer('wide-mlp', { inputs });
    assert.equal(viaV2.status, 200, JSON.stringify(viaV2.body));
    const viaV1 = await request(stack.baseUrl, 'POST', '/v1/jobs', { model: 'wide-mlp', inputs }, { ...auth, prefer: 'wait=30' });
    assert.equal(viaV1.status, 200);
    assert.equal(viaV1.body.result.outputs.length, 1);
    assert.deepEqual(viaV2.body.outputs, viaV1.body.result.outputs);
    assert.deepEqual(viaV2.body.outputs[0].shape, [64, 16]);
    assert.equal(viaV2.body.outputs[0].data.length, 64 * 16);
  });

  test('named outputs: only the outputs asked for, in the order asked; all of them when none is named', async () => {
    const inputs = [{ name: 'x', datatype: 'FP32', shape: [2, 2], data: [1, -2, 3.5, 0] }];
    const all = await infer('two-heads', { inputs });
    assert.equal(all.status, 200);
    assert.deepEqual(all.body.outputs.map((o: { name: string }) => o.name), ['copy', 'negated']);
    const one = await infer('two-heads', { inputs, outputs: [{ name: 'negated' }] });
    assert.deepEqual(one.body.outputs, [{ name: 'negated', datatype: 'FP32', shape: [2, 2], data: [-1, 2, -3.5, 0] }]); // JSON has no -0
    const reordered = await infer('two-heads', { inputs, outputs: [{ name: 'negated' }, { name: 'copy' }] });
    assert.deepEqual(reordered.body.outputs.map((o: { name: string }) => o.name), ['negated', 'copy']);
    assertV2Error(await infer('two-heads', { inputs, outputs: [{ name: 'sum' }] }), 400, 'INVALID_REQUEST', /no output sum/);
  });

  test('binary data off: binary_data false is plain JSON; asking for binary data is refused with a clear 400', async () => {
    const inputs = [{ name: 'x', datatype: 'FP32', shape: [1, 2], data: [0.5, 2] }];
    const off = await infer('two-heads', { parameters: { binary_data_output: false }, inputs, outputs: [{ name: 'copy', parameters: { binary_data: false } }] });
    assert.equal(off.status, 200);
    assert.deepEqual(off.body.outputs, [{ name: 'copy', datatype: 'FP32', shape: [1, 2], data: [0.5, 2] }]);
    assertV2Error(await infer('two-heads', { inputs, outputs: [{ name: 'copy', parameters: { binary_data: true } }] }), 400, 'INVALID_REQUEST', /binary tensor data/);
    assertV2Error(await infer('two-heads', { parameters: { binary_data_output: true }, inputs }), 400, 'INVALID_REQUEST', /binary tensor data/);
    assertV2Error(await infer('two-heads', { inputs: [{ ...inputs[0], parameters: { binary_data_size: 8 } }] }), 400, 'INVALID_REQUEST', /binary tensor data/);
    const binaryBody = await fetch(`${stack.baseUrl}/v2/models/two-heads/infer`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/octet-stream', 'inference-header-content-length': '40' },
      body: Buffer.concat([Buffer.from('{"inputs":[]}'), Buffer.alloc(8)]),
    });
    assertV2Error({ status: binaryBody.status, headers: binaryBody.headers, body: await binaryBody.json() }, 400, 'INVALID_REQUEST', /binary tensor data/);
  });

  test('errors: an unknown model, a bad datatype, a wrong shape, bad parameters, a malformed body', async () => {
    const features = { name: 'features', datatype: 'FP32', shape: [1, 8], data: featureRow(SAFE_TRANSACTION) };
    assertV2Error(await infer('no-such-model', { inputs: [features] }), 404, 'MODEL_NOT_FOUND', /no-such-model/);
    assertV2Error(await v2('POST', '/v2/models/fraud-risk/versions/9/infer', { inputs: [features] }), 404, 'MODEL_VERSION_NOT_FOUND');
    assertV2Error(await infer('fraud-risk', { inputs: [{ ...features, datatype: 'FP99' }] }), 400, 'INVALID_REQUEST', /FP99 is not a V2 datatype/);
    assertV2Error(await infer('fraud-risk', { inputs: [{ ...features, datatype: 'INT32' }] }), 400, 'INPUT_DATATYPE_MISMATCH', /INT32/);
    assertV2Error(await infer('fraud-risk', { inputs: [{ ...features, shape: [1, 7] }] }), 400, 'INPUT_SHAPE_MISMATCH');
    assertV2Error(await infer('fraud-risk', { inputs: [{ ...features, name: 'x' }] }), 400, 'INPUT_UNKNOWN');
    assertV2Error(await infer('fraud-risk', { inputs: [features], parameters: { priority: 0 } }), 400, 'INVALID_REQUEST', /priority/);
    assertV2Error(await infer('fraud-risk', { inputs: [features], parameters: { nested: { not: 'allowed' } } }), 400, 'INVALID_REQUEST');
    assertV2Error(await infer('fraud-risk', { outputs: [{ name: 'probability' }] }), 400, 'INVALID_REQUEST');
    assertV2Error(await infer('fraud-risk', '{"inputs": ['), 400, 'MALFORMED_JSON');
  });
});

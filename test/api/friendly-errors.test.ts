import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startApiService, type ApiService } from '../../apps/api/src/api-service.ts';
import { loadConfig } from '../../packages/core/src/config.ts';
import { createLogger } from '../../packages/core/src/logger.ts';
import { startLocalRedis, type LocalRedis } from '../../scripts/lib/local-redis.ts';
import { renderTextLine } from '../support/images.ts';
import { SAFE_TRANSACTION } from '../support/http.ts';
import { testModelDir } from '../support/services.ts';

/** Error bodies are JSON; the tests read them loosely. */
const json = (res: Response): Promise<any> => res.json();

// Bad input, wrong methods and wrong media types: each answered with its status, its code and a
// message that says what to send instead. app.request() against real Redis and the real models.
describe('bad input gets a clear 4xx with a stable code', () => {
  let redis: LocalRedis;
  let service: ApiService;
  before(async () => {
    redis = await startLocalRedis();
    service = await startApiService(loadConfig({ redisUrl: redis.url, modelDir: testModelDir() }, {}), createLogger({ level: 'silent' }));
  });
  after(async () => {
    await service.close();
    await redis.stop();
  });

  const submit = (body: unknown) => service.app.request('/v1/jobs', { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });

  test('feature values outside the manifest ranges, or beyond float32, are 422 naming the feature, the value and the range', async () => {
    const cases: [Record<string, unknown>, string, Record<string, unknown>][] = [
      [{ hour_of_day: 99 }, 'INPUT_OUT_OF_RANGE', { feature: 'hour_of_day', value: 99, range: { min: 0, max: 23 } }],
      [{ merchant_risk: 7 }, 'INPUT_OUT_OF_RANGE', { feature: 'merchant_risk', value: 7, range: { min: 0, max: 1 } }],
      [{ is_foreign: 3 }, 'INPUT_OUT_OF_RANGE', { feature: 'is_foreign', value: 3, range: { min: 0, max: 1 } }],
      [{ amount: 1e39 }, 'INPUT_VALUE_INVALID', { feature: 'amount', value: 1e39, range: { min: -3.4028234663852886e38, max: 3.4028234663852886e38 } }],
    ];
    for (const [change, code, details] of cases) {
      const res = await submit({ model: 'fraud-risk', features: { ...SAFE_TRANSACTION, ...change } });
      assert.equal(res.status, 422, JSON.stringify(change));
      const { error } = await json(res);
      assert.equal(error.code, code);
      assert.deepEqual(error.details, { row: 0, ...details });
    }
    const tensor = await submit({ model: 'fraud-risk', inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 8], data: [25, 14, 0.05, 2000, 2, 3, 0, 1e39] }] });
    assert.equal(tensor.status, 422);
    assert.equal((await json(tensor)).error.code, 'INPUT_VALUE_INVALID');
    const columns = await submit({ model: 'fraud-risk', inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 8], data: [25, 99, 0.05, 2000, 2, 3, 0, 1] }] });
    assert.equal(columns.status, 422);
    assert.equal((await json(columns)).error.details.feature, 'hour_of_day');
  });

  test('GET /v1/models/{name} shows each version\'s feature ranges', async () => {
    const { versions } = await json(await service.app.request('/v1/models/fraud-risk'));
    for (const version of versions) assert.deepEqual(version.feature_ranges.hour_of_day, { min: 0, max: 23 });
    const { versions: tensorOnly } = await json(await service.app.request('/v1/models/wide-mlp'));
    assert.equal(tensorOnly[0].feature_ranges, null);
  });

  test('features sent to an image model: 422 FEATURES_NOT_SUPPORTED saying it takes an image', async () => {
    const res = await submit({ model: 'textline-ocr', features: { x: 1 } });
    assert.equal(res.status, 422);
    const { error } = await json(res);
    assert.equal(error.code, 'FEATURES_NOT_SUPPORTED');
    assert.match(error.message, /takes an image/);
  });

  test('an unsupported content type (image/gif) is 415 naming the accepted types', async () => {
    const res = await service.app.request('/v1/jobs?model=textline-ocr', { method: 'POST', body: new Uint8Array([71, 73, 70, 56]), headers: { 'content-type': 'image/gif' } });
    assert.equal(res.status, 415);
    const { error } = await json(res);
    assert.equal(error.code, 'UNSUPPORTED_MEDIA_TYPE');
    assert.deepEqual(error.details.accepted, ['application/json', 'image/png', 'image/jpeg', 'image/webp']);
    assert.match(error.message, /image\/gif is not accepted here; send one of application\/json, image\/png, image\/jpeg, image\/webp/);
  });

  test('a raw image upload without ?model= is 400 INVALID_QUERY saying where the model goes', async () => {
    const res = await service.app.request('/v1/jobs', { method: 'POST', body: await renderTextLine('Hi'), headers: { 'content-type': 'image/png' } });
    assert.equal(res.status, 400);
    const { error } = await json(res);
    assert.equal(error.code, 'INVALID_QUERY');
    assert.equal(error.message, 'a raw image upload names its model in the query string: POST /v1/jobs?model=<name> (e.g. ?model=textline-ocr)');
    const unknown = await service.app.request('/v1/jobs?model=textline-ocr&modle=x', { method: 'POST', body: await renderTextLine('Hi'), headers: { 'content-type': 'image/png' } });
    assert.equal(unknown.status, 400);
    assert.match((await json(unknown)).error.message, /unknown query parameter modle/);
  });

  test('a known path with a wrong method is 405 METHOD_NOT_ALLOWED with Allow; an unknown path stays 404', async () => {
    const cases: [string, string, string][] = [
      ['PUT', '/v1/jobs', 'POST'],
      ['POST', '/v1/jobs/fraud-risk.01M87MDTB3PNGHXNGA8VGPR9WMQ4Z8KD', 'DELETE, GET, HEAD'],
      ['DELETE', '/v1/models', 'GET, HEAD'],
      ['POST', '/healthz', 'GET, HEAD'],
      ['PATCH', '/v1/models/fraud-risk/routing', 'GET, HEAD, PUT'],
    ];
    for (const [method, path, allow] of cases) {
      const res = await service.app.request(path, { method });
      assert.equal(res.status, 405, `${method} ${path}`);
      assert.equal(res.headers.get('allow'), allow, `${method} ${path}`);
      const { error } = await json(res);
      assert.equal(error.code, 'METHOD_NOT_ALLOWED');
      assert.deepEqual(error.details, { method, allowed: allow.split(', ') });
    }
    const unknown = await service.app.request('/v1/nothing-here', { method: 'PUT' });
    assert.equal(unknown.status, 404);
    assert.equal((await json(unknown)).error.code, 'NOT_FOUND');
  });
});

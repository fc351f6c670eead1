import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { freePort, startLocalRedis, type LocalRedis } from '../../scripts/lib/local-redis.ts';
import { request, SAFE_TRANSACTION, submitAndWait } from '../support/http.ts';
import { copyModel, startService, stopAll, testModelDir } from '../support/services.ts';

describe('start-up checks, model loading and execution providers', () => {
  let redis: LocalRedis | undefined;
  afterEach(async () => {
    await stopAll();
    await redis?.stop();
    redis = undefined;
  });

  test('a Redis that may evict keys stops both processes with the fix named', async () => {
    redis = await startLocalRedis();
    const admin = new Redis(redis.url);
    await admin.config('SET', 'maxmemory-policy', 'allkeys-lru');
    admin.disconnect();
    for (const kind of ['api', 'worker'] as const) {
      const service = await startService(kind, { env: { REDIS_URL: redis.url, PORT: String(await freePort()) }, waitReady: false });
      assert.equal(await service.exited, 1);
      const said = service.lines.join('\n');
      assert.match(said, /maxmemory-policy is 'allkeys-lru'/);
      assert.match(said, /CONFIG SET maxmemory-policy noeviction/);
    }
  });

  test('invalid configuration exits 2 naming the variable; an unreachable Redis exits 1 saying so', async () => {
    const bad = await startService('api', { env: { PORT: 'eighty', INFERQ_RESULT_TTL_SECONDS: '-5' }, waitReady: false });
    assert.equal(await bad.exited, 2);
    const said = bad.lines.join('\n');
    assert.match(said, /PORT="eighty"/);
    assert.match(said, /INFERQ_RESULT_TTL_SECONDS="-5"/);

    const unreachable = await startService('api', { env: { REDIS_URL: `redis://127.0.0.1:${await freePort()}`, PORT: String(await freePort()) }, waitReady: false });
    assert.equal(await unreachable.exited, 1);
    assert.match(unreachable.lines.join('\n'), /cannot reach Redis/);
  });

  test('malformed API keys exit 2 naming the variable; a port in use exits 2 with one line and no stack', async () => {
    redis = await startLocalRedis();
    const keys = await startService('api', { env: { REDIS_URL: redis.url, PORT: String(await freePort()), INFERQ_API_KEYS: 'acme:k_3f9a' }, waitReady: false });
    assert.equal(await keys.exited, 2);
    assert.match(keys.lines.join('\n'), /INFERQ_API_KEYS: "acme…" is not tenant:key/);

    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const port = (holder.address() as AddressInfo).port;
    try {
      const clash = await startService('api', { env: { REDIS_URL: redis.url, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'error' }, waitReady: false });
      assert.equal(await clash.exited, 2);
      assert.deepEqual(clash.lines, [`inferq api: cannot listen on 127.0.0.1:${port}: it is already in use (EADDRINUSE); set PORT (or HOST) to another value`]);
    } finally {
      holder.close();
    }
  });

  test('a sha256 mismatch refuses that version with the reason; the model\'s other versions serve', async () => {
    redis = await startLocalRedis();
    const fraud = copyModel('fraud-risk');
    const manifestPath = path.join(fraud, '2', 'model.json');
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
    manifest.sha256 = '0'.repeat(64);
    writeFileSync(manifestPath, JSON.stringify(manifest));
    const port = await freePort();
    const env = { REDIS_URL: redis.url, PORT: String(port), INFERQ_MODEL_DIR: testModelDir({ 'fraud-risk': fraud }), INFERQ_MODELS: 'fraud-risk' };
    const worker = await startService('worker', { env });
    await startService('api', { env });
    const base = `http://127.0.0.1:${port}`;
    assert.ok(worker.lines.some((l) => l.includes('model version refused') && l.includes('sha256 mismatch')));

    const model = await request(base, 'GET', '/v1/models/fraud-risk');
    const [v1, v2] = model.body.versions;
    assert.equal(v2.state, 'refused');
    assert.match(v2.reason, /sha256 mismatch/);
    assert.equal(v1.state, 'loaded');
    assert.equal(model.body.default_version, '1', 'jobs without a version go to the newest version that passed its checks');

    const pinned = await request(base, 'POST', '/v1/jobs', { model: 'fraud-risk', version: '2', features: SAFE_TRANSACTION });
    assert.equal(pinned.status, 409);
    assert.equal(pinned.body.error.code, 'MODEL_VERSION_UNAVAILABLE');
    const served = await submitAndWait(base, { model: 'fraud-risk', features: SAFE_TRANSACTION });
    assert.equal(served.body.status, 'succeeded');
    assert.equal(served.body.model_version, '1');
  });

  test('INFERQ_EXECUTION_PROVIDERS=cuda,cpu without CUDA falls back to CPU with one warning per version', async () => {
    redis = await startLocalRedis();
    const port = await freePort();
    const env = { REDIS_URL: redis.url, PORT: String(port), INFERQ_MODEL_DIR: testModelDir(), INFERQ_MODELS: 'fraud-risk' };
    const worker = await startService('worker', { env: { ...env, INFERQ_EXECUTION_PROVIDERS: 'cuda,cpu' } });
    await startService('api', { env });
    const warnings = worker.lines.filter((l) => l.includes('execution provider cuda unavailable'));
    assert.equal(warnings.length, 2, 'one warning for each of fraud-risk 1 and 2');
    const base = `http://127.0.0.1:${port}`;
    const model = await request(base, 'GET', '/v1/models/fraud-risk');
    assert.deepEqual(model.body.versions[1].workers.execution_providers, ['cpu']);
    const served = await submitAndWait(base, { model: 'fraud-risk', features: SAFE_TRANSACTION });
    assert.equal(served.body.status, 'succeeded');
  });

  test('worker health endpoints report each version\'s load state', async () => {
    redis = await startLocalRedis();
    const healthPort = await freePort();
    await startService('worker', { env: { REDIS_URL: redis.url, INFERQ_MODEL_DIR: testModelDir(), INFERQ_MODELS: 'lookup', INFERQ_WORKER_HEALTH_PORT: String(healthPort) } });
    const base = `http://127.0.0.1:${healthPort}`;
    assert.equal((await request(base, 'GET', '/healthz')).status, 200);
    const ready = await request(base, 'GET', '/readyz');
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.body.versions.map((v: { model: string; state: string }) => `${v.model}:${v.state}`), ['lookup:ready']);
  });
});

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { startApiService, type ApiService } from '../../apps/api/src/api-service.ts';
import { loadConfig } from '../../packages/core/src/config.ts';
import { createLogger } from '../../packages/core/src/logger.ts';
import { startLocalRedis, type LocalRedis } from '../../scripts/lib/local-redis.ts';
import { SAFE_TRANSACTION } from '../support/http.ts';
import { testModelDir } from '../support/services.ts';

/** Error bodies are JSON; the tests read them loosely. */
const json = (res: Response): Promise<any> => res.json();

// The app without a server: app.request() against real Redis and the real model repository.
describe('HTTP edges through app.request()', () => {
  let redis: LocalRedis;
  let service: ApiService;
  before(async () => {
    redis = await startLocalRedis();
    const config = loadConfig({ redisUrl: redis.url, modelDir: testModelDir(), maxBodyBytes: 4096, maxRowsPerJob: 2, maxJobsPerBulk: 3, requestTimeoutMs: 300 }, {});
    service = await startApiService(config, createLogger({ level: 'silent' }));
  });
  after(async () => {
    await service.close();
    await redis.stop();
  });

  const post = (body: string, headers: Record<string, string> = { 'content-type': 'application/json' }, path = '/v1/jobs') =>
    service.app.request(path, { method: 'POST', body, headers });

  test('a body over the limit is 413 before it is parsed, with or without Content-Length', async () => {
    const big = JSON.stringify({ model: 'fraud-risk', features: SAFE_TRANSACTION, metadata: { pad: 'x'.repeat(10_000) } });
    const declared = await post(big);
    assert.equal(declared.status, 413);
    assert.equal((await json(declared)).error.code, 'PAYLOAD_TOO_LARGE');

    // Chunked: no Content-Length, the limit is enforced while streaming.
    const chunks = [big.slice(0, 3000), big.slice(3000)];
    const stream = new ReadableStream({
      pull(controller) {
        const next = chunks.shift();
        if (next === undefined) controller.close();
        else controller.enqueue(new TextEncoder().encode(next));
      },
    });
    const chunked = await service.app.request('/v1/jobs', { method: 'POST', body: stream, headers: { 'content-type': 'application/json' }, duplex: 'half' } as RequestInit);
    assert.equal(chunked.status, 413);
    assert.equal((await json(chunked)).error.code, 'PAYLOAD_TOO_LARGE');
  });

  test('a body that is not JSON is 415; an empty one is 400', async () => {
    const form = await post('model=fraud-risk', { 'content-type': 'application/x-www-form-urlencoded' });
    assert.equal(form.status, 415);
    assert.equal((await json(form)).error.code, 'UNSUPPORTED_MEDIA_TYPE');
    const none = await post('{}', {});
    assert.equal(none.status, 415);
    const empty = await post('');
    assert.equal(empty.status, 400);
    assert.equal((await json(empty)).error.code, 'MALFORMED_JSON');
  });

  test('every response carries x-request-id, and a client-supplied one is echoed', async () => {
    const mine = await service.app.request('/healthz', { headers: { 'x-request-id': 'client-abc-123' } });
    assert.equal(mine.headers.get('x-request-id'), 'client-abc-123');
    for (const res of [await service.app.request('/nope'), await post('{'), await service.app.request('/v1/models')]) {
      assert.match(res.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
    }
  });

  test('unknown routes are 404 NOT_FOUND in the error format; a bad wait is 400', async () => {
    const res = await service.app.request('/v9/anything');
    assert.equal(res.status, 404);
    assert.deepEqual(Object.keys((await json(res)).error).sort(), ['code', 'message']);
    const wait = await service.app.request('/v1/jobs/fraud-risk.01M87MDTB3PNGHXNGA8VGPR9WM?wait=soon');
    assert.equal(wait.status, 400);
    assert.equal((await json(wait)).error.code, 'INVALID_QUERY');
  });

  test('a job with more rows than INFERQ_MAX_ROWS_PER_JOB is 413 TOO_MANY_ROWS', async () => {
    const submit = (rows: number) => post(JSON.stringify({ model: 'fraud-risk', features: Array.from({ length: rows }, () => SAFE_TRANSACTION) }));
    const tooMany = await submit(3);
    assert.equal(tooMany.status, 413);
    const body = await json(tooMany);
    assert.equal(body.error.code, 'TOO_MANY_ROWS');
    assert.deepEqual(body.error.details, { rows: 3, max_rows: 2 });
    assert.equal((await submit(2)).status, 202);
  });

  test('a bulk call over INFERQ_MAX_JOBS_PER_BULK is 413 TOO_MANY_JOBS', async () => {
    const res = await post(JSON.stringify({ jobs: Array.from({ length: 4 }, () => ({ model: 'fraud-risk', features: SAFE_TRANSACTION })) }), undefined, '/v1/jobs/bulk');
    const body = await json(res);
    assert.equal(res.status, 413);
    assert.equal(body.error.code, 'TOO_MANY_JOBS');
  });

  test('a request stuck on a Redis that stopped answering gets 503 REQUEST_TIMEOUT at its deadline', async () => {
    const admin = new Redis(redis.url);
    await admin.call('CLIENT', 'PAUSE', '1500', 'ALL');
    const started = Date.now();
    const res = await post(JSON.stringify({ model: 'fraud-risk', features: SAFE_TRANSACTION }));
    const elapsed = Date.now() - started;
    admin.disconnect();
    assert.equal(res.status, 503);
    assert.equal((await json(res)).error.code, 'REQUEST_TIMEOUT');
    assert.ok(elapsed < 1400, `answered after ${elapsed} ms, before Redis came back`);
  });
});

// No worker runs, so every job stays queued and every ?wait= would be held to its end.
describe('held long-polls are capped by INFERQ_MAX_HELD_LONG_POLLS', () => {
  let redis: LocalRedis;
  let service: ApiService;
  before(async () => {
    redis = await startLocalRedis();
    const config = loadConfig({ redisUrl: redis.url, modelDir: testModelDir(), maxHeldLongPolls: 2 }, {});
    service = await startApiService(config, createLogger({ level: 'silent' }));
  });
  after(async () => {
    await service.close();
    await redis.stop();
  });

  const submit = async (path: string, body: unknown) => {
    const res = await service.app.request(path, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    assert.equal(res.status, 202);
    return (await json(res)) as { job_id?: string; batch_id?: string };
  };

  test('past the cap a long-poll answers at once with the current state and a later Retry-After; freed places hold again', async () => {
    const jobIds: string[] = [];
    for (let i = 0; i < 3; i++) jobIds.push((await submit('/v1/jobs', { model: 'fraud-risk', features: SAFE_TRANSACTION })).job_id as string);
    const batchId = (await submit('/v1/batches', { model: 'fraud-risk', rows: [SAFE_TRANSACTION] })).batch_id as string;
    const poll = (path: string) => service.app.request(path);

    const held = [poll(`/v1/jobs/${jobIds[0]}?wait=30`), poll(`/v1/jobs/${jobIds[1]}?wait=30`)];
    let heldAnswered = false;
    void Promise.all(held).then(() => (heldAnswered = true));
    await new Promise((r) => setTimeout(r, 100));

    const declined = await poll(`/v1/jobs/${jobIds[2]}?wait=30`);
    assert.equal(declined.status, 200);
    assert.equal((await json(declined)).status, 'queued');
    assert.equal(declined.headers.get('retry-after'), '5');
    const declinedShort = await poll(`/v1/jobs/${jobIds[2]}?wait=3`);
    assert.equal(declinedShort.headers.get('retry-after'), '3', 'never later than the wait the client asked for');
    const declinedBatch = await poll(`/v1/batches/${batchId}?wait=30`);
    assert.equal(declinedBatch.status, 200);
    assert.equal(declinedBatch.headers.get('retry-after'), '5');
    assert.equal(heldAnswered, false, 'the first two are still held');

    service.releaseLongPolls();
    const released = await Promise.all(held);
    for (const res of released) {
      assert.equal((await json(res)).status, 'queued');
      assert.equal(res.headers.get('retry-after'), '1');
    }
    // Places are free again: this one is held for its whole (short) wait, not declined.
    const started = Date.now();
    const again = await poll(`/v1/jobs/${jobIds[2]}?wait=2`);
    assert.ok(Date.now() - started >= 1900, 'held for its wait');
    assert.equal(again.headers.get('retry-after'), '1');
  });
});

describe('batch uploads stream: ingest starts before the upload ends, and the size limit holds', () => {
  let redis: LocalRedis;
  let service: ApiService;
  let queue: Queue;
  const maxBatchBytes = 64 * 1024;
  before(async () => {
    redis = await startLocalRedis();
    const config = loadConfig({ redisUrl: redis.url, modelDir: testModelDir(), maxBatchBytes, batchChunkRows: 100 }, {});
    service = await startApiService(config, createLogger({ level: 'silent' }));
    queue = new Queue('model-{fraud-risk}', { connection: { url: redis.url }, prefix: 'inferq' });
  });
  after(async () => {
    await queue.close();
    await service.close();
    await redis.stop();
  });

  const line = `${JSON.stringify({ features: SAFE_TRANSACTION })}\n`;
  const upload = (body: ReadableStream<Uint8Array> | string, headers: Record<string, string> = {}) =>
    service.app.request('/v1/batches?model=fraud-risk', { method: 'POST', body, headers: { 'content-type': 'application/x-ndjson', ...headers }, duplex: 'half' } as RequestInit);
  const queuedChunks = async () => {
    const counts = await queue.getJobCounts('waiting', 'prioritized');
    return (counts.waiting ?? 0) + (counts.prioritized ?? 0);
  };

  test('chunk jobs are queued while the body is still arriving', async () => {
    let sent = 0;
    let queuedMidUpload = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (sent === 0) {
          controller.enqueue(new TextEncoder().encode(line.repeat(250)));
          sent = 250;
          return;
        }
        // The rest of the file is held back until the first rows became queue jobs.
        for (let waited = 0; waited < 5_000 && queuedMidUpload < 2; waited += 20) {
          queuedMidUpload = await queuedChunks();
          await new Promise((r) => setTimeout(r, 20));
        }
        controller.enqueue(new TextEncoder().encode(line.repeat(50)));
        controller.close();
      },
    });
    const res = await upload(body);
    assert.equal(res.status, 202);
    assert.equal((await json(res)).total, 300);
    assert.ok(queuedMidUpload >= 2, `two full chunks were queued before the upload ended (saw ${queuedMidUpload})`);
  });

  test('a chunked upload over INFERQ_MAX_BATCH_BYTES is 413 once the limit is crossed; a declared one before a byte is read', async () => {
    const rows = line.repeat(Math.ceil((maxBatchBytes * 1.5) / line.length));
    const parts = [rows.slice(0, maxBatchBytes / 2), rows.slice(maxBatchBytes / 2)];
    const chunked = await upload(new ReadableStream<Uint8Array>({
      pull(controller) {
        const next = parts.shift();
        if (next === undefined) controller.close();
        else controller.enqueue(new TextEncoder().encode(next));
      },
    }));
    assert.equal(chunked.status, 413);
    const body = await json(chunked);
    assert.equal(body.error.code, 'PAYLOAD_TOO_LARGE');
    assert.match(body.error.message, /INFERQ_MAX_BATCH_BYTES/);

    const declared = await upload(rows, { 'content-length': String(Buffer.byteLength(rows)) });
    assert.equal(declared.status, 413);
    assert.equal((await json(declared)).error.code, 'PAYLOAD_TOO_LARGE');
  });
});

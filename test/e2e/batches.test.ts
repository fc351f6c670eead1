import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { request, RISKY_TRANSACTION, SAFE_TRANSACTION, submitAndWait } from '../support/http.ts';
import { startStack, type Stack } from '../support/services.ts';

async function postBatch(base: string, query: string, body: string, contentType: string) {
  const res = await fetch(`${base}/v1/batches?${query}`, { method: 'POST', body, headers: { 'content-type': contentType } });
  return { status: res.status, headers: res.headers, body: (await res.json()) as any };
}

async function resultLines(base: string, batchId: string): Promise<any[]> {
  const res = await fetch(`${base}/v1/batches/${batchId}/results`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /application\/x-ndjson/);
  return (await res.text()).trimEnd().split('\n').map((line) => JSON.parse(line));
}

const features = (i: number) => ({ ...SAFE_TRANSACTION, amount: 1 + (i % 4000), hour_of_day: i % 24 });

describe('batch scoring: NDJSON, CSV and JSON rows through the same workers', () => {
  let stack: Stack;
  before(async () => {
    // wide-mlp gets no worker here, so its batches stay queued for the cancel tests.
    stack = await startStack({ workerEnv: { INFERQ_MODELS: 'fraud-risk,lookup' } });
  });
  after(() => stack.stop());

  test('100k NDJSON rows: every row answered in input order, ids echoed, bad rows fail alone with their code', async () => {
    const total = 100_000;
    const bad = new Map<number, string>([
      [7, 'FEATURE_MISSING'],
      [5000, 'MALFORMED_JSON'],
      [77_777, 'INPUT_VALUE_INVALID'],
    ]);
    const lines: string[] = [];
    for (let i = 0; i < total; i++) {
      if (i === 7) lines.push(JSON.stringify({ id: `r${i}`, features: { amount: 5 } }));
      else if (i === 5000) lines.push('{"features": {oops');
      else if (i === 77_777) lines.push(JSON.stringify({ id: `r${i}`, features: { ...features(i), amount: 'many' } }));
      else lines.push(JSON.stringify({ id: `r${i}`, features: features(i) }));
    }
    const submitted = await postBatch(stack.baseUrl, 'model=fraud-risk', `${lines.join('\n')}\n`, 'application/x-ndjson');
    assert.equal(submitted.status, 202, JSON.stringify(submitted.body));
    assert.match(submitted.body.batch_id, /^batch-fraud-risk-[0-9A-Z]{26}$/);
    assert.equal(submitted.body.total, total);
    assert.equal(submitted.headers.get('location'), submitted.body.poll_url);

    const done = await request(stack.baseUrl, 'GET', `${submitted.body.poll_url}?wait=120`);
    assert.equal(done.body.status, 'succeeded');
    assert.equal(done.body.succeeded, total - bad.size);
    assert.equal(done.body.failed, bad.size);
    assert.equal(done.body.percent, 100);
    assert.ok(done.body.timings.total_ms >= done.body.timings.ingest_ms);

    const results = await resultLines(stack.baseUrl, submitted.body.batch_id);
    assert.equal(results.length, total);
    results.forEach((line, i) => {
      assert.equal(line.row, i);
      if (bad.has(i)) {
        assert.equal(line.error.code, bad.get(i), `row ${i}`);
      } else {
        assert.equal(line.id, `r${i}`);
        assert.ok(line.result.label === 'legit' || line.result.label === 'fraud');
      }
    });
    // A batch row scores exactly as the same row submitted as a single job.
    for (const i of [0, 12_345, 99_999]) {
      const single = await submitAndWait(stack.baseUrl, { model: 'fraud-risk', features: features(i) });
      assert.deepEqual(results[i].result, single.body.result);
    }
  });

  test('CSV with a header row: id column echoed, a non-numeric cell fails its row only', async () => {
    const names = Object.keys(SAFE_TRANSACTION);
    const csv = [
      ['id', ...names].join(','),
      ['"a,1"', ...Object.values(RISKY_TRANSACTION)].join(','),
      ['b2', ...Object.values(SAFE_TRANSACTION)].join(','),
      ['c3', 'lots', ...Object.values(SAFE_TRANSACTION).slice(1)].join(','),
    ].join('\r\n');
    const submitted = await postBatch(stack.baseUrl, 'model=fraud-risk&version=1', csv, 'text/csv');
    assert.equal(submitted.status, 202, JSON.stringify(submitted.body));
    assert.equal(submitted.body.model_version, '1');
    await request(stack.baseUrl, 'GET', `${submitted.body.poll_url}?wait=30`);
    const [a, b, c] = await resultLines(stack.baseUrl, submitted.body.batch_id);
    assert.deepEqual([a.id, a.result.label], ['a,1', 'fraud']);
    assert.deepEqual([b.id, b.result.label], ['b2', 'legit']);
    assert.equal(c.id, 'c3');
    assert.equal(c.error.code, 'INPUT_VALUE_INVALID');
  });

  test('JSON rows, tensor inputs: a row the model rejects fails alone (INFERENCE_FAILED)', async () => {
    const ids = [1, 2, 99, 3];
    const rows = ids.map((id) => ({ id, inputs: [{ name: 'ids', datatype: 'INT64', shape: [1, 1], data: [id] }] }));
    const submitted = await request(stack.baseUrl, 'POST', '/v1/batches', { model: 'lookup', rows });
    assert.equal(submitted.status, 202);
    const done = await request(stack.baseUrl, 'GET', `${submitted.body.poll_url}?wait=30`);
    assert.deepEqual([done.body.succeeded, done.body.failed], [3, 1]);
    const lines = await resultLines(stack.baseUrl, submitted.body.batch_id);
    assert.equal(lines[2].error.code, 'INFERENCE_FAILED');
    assert.deepEqual(lines[3].result, { vectors: [30, 31, 32, 33] });
  });

  test('rows are scored in chunks: 5,000 rows make 5 queue jobs, not 5,000', async () => {
    const ndjson = Array.from({ length: 5000 }, () => JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 64], data: new Array(64).fill(0.1) }] })).join('\n');
    const submitted = await postBatch(stack.baseUrl, 'model=wide-mlp', ndjson, 'application/x-ndjson');
    assert.equal(submitted.status, 202);
    const queue = stack.redis.queue('model-{wide-mlp}');
    const counts = await queue.getJobCounts('waiting', 'prioritized', 'active');
    await queue.close();
    assert.equal((counts.waiting ?? 0) + (counts.prioritized ?? 0) + (counts.active ?? 0), Math.ceil(5000 / 1024));

    // No worker serves wide-mlp here: the batch waits; its results are not readable yet.
    const early = await request(stack.baseUrl, 'GET', `/v1/batches/${submitted.body.batch_id}/results`);
    assert.equal(early.status, 409);
    assert.equal(early.body.error.code, 'BATCH_NOT_FINISHED');
    assert.ok(Number(early.headers.get('retry-after')) > 0);

    // Cancel: every row reports CANCELED, none vanishes.
    const canceled = await request(stack.baseUrl, 'DELETE', `/v1/batches/${submitted.body.batch_id}`);
    assert.equal(canceled.status, 200);
    assert.equal(canceled.body.status, 'canceled');
    assert.equal(canceled.body.canceled, 5000);
    const lines = await resultLines(stack.baseUrl, submitted.body.batch_id);
    assert.equal(lines.length, 5000);
    assert.ok(lines.every((l, i) => l.row === i && l.error.code === 'CANCELED'));
    const again = await request(stack.baseUrl, 'DELETE', `/v1/batches/${submitted.body.batch_id}`);
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, 'BATCH_NOT_CANCELABLE');
  });

  test('progress moves while a batch is scored', async () => {
    // lookup rows are cheap; 60k of them in 59 chunks take long enough to watch.
    const ndjson = Array.from({ length: 60_000 }, (_, i) => JSON.stringify({ inputs: [{ name: 'ids', datatype: 'INT64', shape: [1, 1], data: [i % 16] }] })).join('\n');
    const submitted = await postBatch(stack.baseUrl, 'model=lookup', ndjson, 'application/x-ndjson');
    const seen: number[] = [];
    for (;;) {
      const view = await request(stack.baseUrl, 'GET', submitted.body.poll_url);
      seen.push(view.body.percent);
      if (view.body.status === 'succeeded') break;
      assert.ok(['queued', 'running'].includes(view.body.status));
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(seen.at(-1), 100);
    assert.ok(seen.every((p, i) => i === 0 || p >= (seen[i - 1] as number)), 'percent never goes back');
  });

  test('unknown batches are 404; unsupported bodies 415; bad queries 400', async () => {
    assert.equal((await request(stack.baseUrl, 'GET', '/v1/batches/batch-01M87MDTB3PNGHXNGA8VGPR9WM')).body.error.code, 'BATCH_NOT_FOUND');
    assert.equal((await request(stack.baseUrl, 'GET', '/v1/batches/nope/results')).status, 404);
    const xml = await postBatch(stack.baseUrl, 'model=fraud-risk', '<rows/>', 'application/xml');
    assert.equal(xml.status, 415);
    const noModel = await postBatch(stack.baseUrl, 'modle=fraud-risk', '{}', 'application/x-ndjson');
    assert.equal(noModel.body.error.code, 'INVALID_QUERY');
    const unknownModel = await postBatch(stack.baseUrl, 'model=nope', '{}', 'application/x-ndjson');
    assert.equal(unknownModel.body.error.code, 'MODEL_NOT_FOUND');
  });
});

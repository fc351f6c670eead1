import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DynamicBatcher } from '../../packages/inference/src/dynamic-batcher.ts';
import { widthBucket } from '../../packages/inference/src/image-preprocess.ts';
import { InferencePool, RunFailedError } from '../../packages/inference/src/inference-pool.ts';
import { deferTensor, packTensor, type BatchPart, type RawTensor, type TypedArray } from '../../packages/inference/src/tensor-codec.ts';
import { REPO_ROOT } from '../support/services.ts';

const LOOKUP = path.join(REPO_ROOT, 'test/fixtures/models/lookup/1/model.onnx');
const values = (data: TypedArray | undefined): number[] => Array.from(data ?? [], Number);
const ids = (...values: number[]): Record<string, RawTensor> => ({ ids: { type: 'int64', dims: [values.length, 1], data: BigInt64Array.from(values.map(BigInt)) } });

// lookup's table is table[i][j] = 10 * i + j, 16 rows: ids outside -16..15 make the run throw.
describe('DynamicBatcher on a real onnxruntime session', () => {
  let pool: InferencePool;
  let batcher: DynamicBatcher;
  before(async () => {
    pool = await InferencePool.start({ modelPath: LOOKUP, threads: 1, warmupFeeds: ids(0), onIdle: () => batcher?.pump() });
    batcher = new DynamicBatcher(pool, { maxBatchSize: 8, maxWaitMs: 20 });
  });
  after(() => pool.close());

  test('items submitted together run as one batch and each gets its own rows back', async () => {
    const outcomes = await Promise.all([batcher.submit(ids(1), 1), batcher.submit(ids(2, 3), 2), batcher.submit(ids(4), 1)]);
    assert.deepEqual(outcomes.map((o) => o.batchRows), [4, 4, 4]);
    assert.deepEqual(values(outcomes[1]?.outputs?.vectors?.data), [20, 21, 22, 23, 30, 31, 32, 33]);
    assert.deepEqual(outcomes[1]?.outputs?.vectors?.dims, [2, 1, 4]);
    assert.deepEqual(values(outcomes[2]?.outputs?.vectors?.data), [40, 41, 42, 43]);
  });

  test('a full batch runs at once; the overflow waits for the next one', async () => {
    const outcomes = await Promise.all(Array.from({ length: 11 }, (_, i) => batcher.submit(ids(i % 16), 1)));
    assert.deepEqual(outcomes.map((o) => o.batchRows), [8, 8, 8, 8, 8, 8, 8, 8, 3, 3, 3]);
  });

  test('a full batch queues behind a busy thread; a partial one waits for the thread', async () => {
    const submitted = Array.from({ length: 27 }, (_, i) => batcher.submit(ids(i % 16), 1));
    // 8 run, the next 8 wait in the thread's queue, and the 11 left keep accumulating.
    assert.equal(pool.idleThreads, 0);
    assert.equal(pool.queueableThreads, 0);
    assert.equal(batcher.pendingItems, 11);
    const outcomes = await Promise.all(submitted);
    assert.deepEqual(outcomes.map((o) => o.batchRows), [...Array(24).fill(8), 3, 3, 3]);
    outcomes.forEach((o, i) => {
      assert.equal(Number(o.outputs?.vectors?.data[0]), (i % 16) * 10, `item ${i} got its own rows`);
    });
  });

  test('a lone item runs after max_wait_ms even though the batch is not full', async () => {
    const started = performance.now();
    const outcome = await batcher.submit(ids(5), 1);
    assert.equal(outcome.batchRows, 1);
    assert.ok(performance.now() - started >= 19, 'it waited for neighbours first');
  });

  test('items with different batch keys never share a batch (a short line is not padded to a long one)', async () => {
    const keys = ['w2', 'w19', 'w2', 'w19', 'w2'];
    const outcomes = await Promise.all(keys.map((key, i) => batcher.submit(ids(i), 1, key)));
    assert.deepEqual(outcomes.map((o) => o.batchRows), [3, 2, 3, 2, 3]);
    assert.notEqual(widthBucket(40), widthBucket(2000));
    assert.ok(widthBucket(1000) - widthBucket(800) <= 1, 'widths within 25 % land in the same or the next bucket');
  });

  test('a failing item is isolated by bisection: only it fails, with the model\'s message', async () => {
    const values = [1, 2, 99, 3, 4, 5, -40, 6];
    const outcomes = await Promise.all(values.map((v) => batcher.submit(ids(v), 1)));
    outcomes.forEach((o, i) => {
      if (values[i] === 99 || values[i] === -40) {
        assert.ok(o.error instanceof RunFailedError);
        assert.match(o.error.message, /out of data bounds|out of bounds/i);
        assert.equal(o.outputs, undefined);
      } else {
        assert.equal(o.error, undefined);
        assert.equal(Number(o.outputs?.vectors?.data[0]), (values[i] as number) * 10);
      }
    });
  });
  test('packed inputs are batched with decoded ones; one whose bytes do not decode fails alone', async () => {
    const packed = (...v: number[]): Record<string, BatchPart> => ({ ids: deferTensor(packTensor({ name: 'ids', datatype: 'INT64', shape: [v.length, 1], data: v })) });
    // 12 base64 characters are 8 bytes (one INT64 row) by their length, but '*' is not base64.
    const garbled: Record<string, BatchPart> = { ids: deferTensor({ name: 'ids', datatype: 'INT64', shape: [1, 1], bytes: 'AAA*AAAAAAA=' }) };
    const outcomes = await Promise.all([batcher.submit(packed(1, 2), 2), batcher.submit(ids(3), 1), batcher.submit(garbled, 1), batcher.submit(packed(4), 1)]);
    assert.deepEqual(values(outcomes[0]?.outputs?.vectors?.data), [10, 11, 12, 13, 20, 21, 22, 23]);
    assert.equal(Number(outcomes[1]?.outputs?.vectors?.data[0]), 30);
    assert.ok(outcomes[2]?.error instanceof RunFailedError);
    assert.match(outcomes[2].error.message, /not valid base64/);
    assert.equal(Number(outcomes[3]?.outputs?.vectors?.data[0]), 40);
  });
});

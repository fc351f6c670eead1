import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { InferencePool } from '../../packages/inference/src/inference-pool.ts';
import { sessionThreadOptions } from '../../packages/inference/src/thread-policy.ts';
import { REPO_ROOT } from '../support/services.ts';

const WIDE_MLP = path.join(REPO_ROOT, 'models/wide-mlp/1/model.onnx');
const feeds = () => ({ x: { type: 'float32' as const, dims: [2, 64], data: new Float32Array(2 * 64).fill(0.5) } });
const niceOf = (tid: string) => Number(readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1]?.split(' ')[16]);

describe('thread policy', () => {
  test('session options: no spinning unless asked, sequential, dynamic blocks only when set', () => {
    assert.deepEqual(sessionThreadOptions({ intraOpThreads: 3 }), {
      intraOpNumThreads: 3,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      extra: { session: { intra_op: { allow_spinning: '0' } } },
    });
    assert.deepEqual(sessionThreadOptions({ intraOpThreads: 2, spinning: true, dynamicBlockBase: 4 }).extra, { session: { intra_op: { allow_spinning: '1' }, dynamic_block_base: '4' } });
  });

  test('the inference thread and the intra-op threads it starts run at a lower priority; the event loop keeps its own', { skip: process.platform !== 'linux' && 'nice is per thread on Linux only' }, async () => {
    const mainNice = os.getPriority();
    const before = new Set(readdirSync('/proc/self/task'));
    const intraOpThreads = 3;
    const pool = await InferencePool.start({ modelPath: WIDE_MLP, threads: 1, policy: { intraOpThreads, niceIncrement: 7 }, warmupFeeds: feeds() });
    try {
      const result = await pool.run(feeds());
      assert.deepEqual(result.outputs.y?.dims, [2, 16], 'the lowered session still runs');
      const lowered = readdirSync('/proc/self/task').filter((tid) => !before.has(tid) && niceOf(tid) === Math.min(19, mainNice + 7));
      // The inference thread itself, and intraOpThreads - 1 pool threads onnxruntime created from it.
      assert.ok(lowered.length >= intraOpThreads, `${lowered.length} threads at nice ${mainNice + 7}, expected at least ${intraOpThreads}`);
      assert.equal(os.getPriority(), mainNice, "the process's (main thread's) priority is untouched");
    } finally {
      await pool.close();
    }
  });
});

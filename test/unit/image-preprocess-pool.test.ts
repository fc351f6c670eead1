import assert from 'node:assert/strict';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { InferqError } from '../../packages/core/src/errors.ts';
import { preprocessImage } from '../../packages/inference/src/image-preprocess.ts';
import { ImagePreprocessPool } from '../../packages/inference/src/image-preprocess-pool.ts';
import { loadModelRepository } from '../../packages/inference/src/model-repository.ts';
import { pngClaiming, renderTextLine } from '../support/images.ts';
import { REPO_ROOT } from '../support/services.ts';

const repository = await loadModelRepository(path.join(REPO_ROOT, 'models'), { only: ['textline-ocr'] });
const spec = repository.get('textline-ocr')?.versions[0]?.manifest?.preprocess;
if (spec?.kind !== 'image') throw new Error('textline-ocr has no image preprocess block');
const limits = { maxPixels: 16_777_216, maxWidth: 2048 };

describe('image threads prepare lines exactly as the event loop would', () => {
  const pool = new ImagePreprocessPool(2);
  after(() => pool.close());

  test('a batch of lines, sent at once as queued base64, comes back as the same tensors', async () => {
    const lines = await Promise.all(['x7', 'Invoice No 8841', 'The quick brown fox jumps over the lazy dog'].map((t) => renderTextLine(t)));
    const [threaded, direct] = await Promise.all([
      Promise.all(lines.map((png) => pool.preprocess(png.toString('base64'), spec, limits))),
      Promise.all(lines.map((png) => preprocessImage(png, spec, limits))),
    ]);
    threaded.forEach((image, i) => {
      assert.deepEqual(image.tensor.dims, direct[i]?.tensor.dims);
      assert.ok(image.tensor.data instanceof Float32Array, 'the tensor crossed back as a typed array');
      assert.deepEqual(image.tensor.data, direct[i]?.tensor.data);
      assert.deepEqual(image.notes, {});
    });
  });

  test('a line wider than the limit is cut at it in one pass, and says so', async () => {
    const png = await renderTextLine('A line far too long for a narrow width limit');
    const narrow = { ...limits, maxWidth: 64 };
    const [threaded, direct] = await Promise.all([pool.preprocess(png, spec, narrow), preprocessImage(png, spec, narrow)]);
    assert.equal(threaded.tensor.dims[3], 64);
    assert.equal(threaded.notes.truncated, true);
    assert.ok((threaded.notes.original_width ?? 0) > 64);
    assert.deepEqual(threaded.tensor.data, direct.tensor.data);
    // The cut keeps the resized line's first 64 columns of every channel and row, untouched.
    const whole = await preprocessImage(png, spec, limits);
    const wholeWidth = whole.tensor.dims[3] as number;
    const rows = 3 * (whole.tensor.dims[2] as number);
    for (let r = 0; r < rows; r++) {
      assert.deepEqual(threaded.tensor.data.subarray(r * 64, (r + 1) * 64), (whole.tensor.data as Float32Array).subarray(r * wholeWidth, r * wholeWidth + 64), `row ${r}`);
    }
  });

  test('bad images are refused with the same codes as on the event loop', async () => {
    await assert.rejects(pool.preprocess(Buffer.from('not an image').toString('base64'), spec, limits), (error: unknown) => error instanceof InferqError && error.code === 'IMAGE_INVALID');
    await assert.rejects(pool.preprocess(await pngClaiming(100_000, 100_000), spec, limits), (error: unknown) => {
      assert.ok(error instanceof InferqError);
      assert.equal(error.code, 'IMAGE_TOO_LARGE');
      assert.deepEqual(error.details, { width: 100_000, height: 100_000, max_pixels: limits.maxPixels });
      return true;
    });
  });
});

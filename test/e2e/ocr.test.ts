import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { request } from '../support/http.ts';
import { pngClaiming, renderTextLine } from '../support/images.ts';
import { startStack, type Stack } from '../support/services.ts';

const LINES = ['Hello World 2024', 'inferq 42', 'ABCDEFG xyz 0123456789', 'Invoice No 8841', 'QUARTERLY REPORT', 'x7', 'The quick brown fox jumps over the lazy dog'];

async function upload(base: string, png: Buffer, query: string, contentType = 'image/png') {
  const res = await fetch(`${base}/v1/jobs?${query}`, { method: 'POST', body: png, headers: { 'content-type': contentType } });
  return { status: res.status, body: (await res.json()) as any };
}

async function result(base: string, jobId: string) {
  const job = await request(base, 'GET', `/v1/jobs/${jobId}?wait=60`);
  assert.equal(job.body.status, 'succeeded', JSON.stringify(job.body));
  return job.body;
}

describe('image models: PP-OCRv4 text-line recognition and text orientation', () => {
  let stack: Stack;
  const rendered = new Map<string, Buffer>();
  before(async () => {
    stack = await startStack({ workerEnv: { INFERQ_MODELS: 'textline-ocr,text-orientation' }, env: { INFERQ_MAX_IMAGE_PIXELS: '4000000' } });
    for (const line of LINES) rendered.set(line, await renderTextLine(line));
  });
  after(() => stack.stop());

  test('a raw PNG upload (curl --data-binary) is read back as the rendered text', async () => {
    for (const line of LINES) {
      const submitted = await upload(stack.baseUrl, rendered.get(line) as Buffer, 'model=textline-ocr');
      assert.equal(submitted.status, 202, JSON.stringify(submitted.body));
      const job = await result(stack.baseUrl, submitted.body.job_id);
      assert.equal(job.result.text, line);
      assert.ok(job.result.confidence > 0.8 && job.result.confidence <= 1, `confidence ${job.result.confidence}`);
      assert.equal(job.result.outputs, undefined, 'raw outputs only when asked for');
    }
  });

  test('the JSON form with base64 gives the same text; include_outputs adds the raw V2 tensor', async () => {
    const png = rendered.get('Invoice No 8841') as Buffer;
    const submitted = await request(stack.baseUrl, 'POST', '/v1/jobs', { model: 'textline-ocr', image: { data: png.toString('base64') }, include_outputs: true });
    assert.equal(submitted.status, 202);
    const job = await result(stack.baseUrl, submitted.body.job_id);
    assert.equal(job.result.text, 'Invoice No 8841');
    const [output] = job.result.outputs;
    assert.equal(output.name, 'softmax_11.tmp_0');
    assert.equal(output.shape[2], 6625);
    assert.equal(output.data.length, output.shape[0] * output.shape[1] * output.shape[2]);
  });

  test('a batch of mixed-width lines reads the same as each line alone: padding changes nothing', async () => {
    const alone = new Map<string, { text: string; confidence: number }>();
    for (const line of LINES) {
      const submitted = await upload(stack.baseUrl, rendered.get(line) as Buffer, 'model=textline-ocr');
      alone.set(line, (await result(stack.baseUrl, submitted.body.job_id)).result);
    }
    // Three copies of every line at once, so that lines of one width bucket share batches.
    const burst = LINES.flatMap((line) => [line, line, line]);
    const submitted = await Promise.all(burst.map((line) => upload(stack.baseUrl, rendered.get(line) as Buffer, 'model=textline-ocr')));
    const jobs = await Promise.all(submitted.map((s) => result(stack.baseUrl, s.body.job_id)));
    jobs.forEach((job, i) => {
      const line = burst[i] as string;
      assert.equal(job.result.text, line);
      assert.ok(Math.abs(job.result.confidence - (alone.get(line)?.confidence ?? 0)) < 0.02, `${line}: ${job.result.confidence} vs ${alone.get(line)?.confidence}`);
    });
    assert.ok(Math.max(...jobs.map((j) => j.batch_size)) > 1, 'some lines were batched together');
  });

  test('a line wider than INFERQ_MAX_IMAGE_WIDTH is cut there, and the result says so', async () => {
    const long = 'Invoice No 8841 '.repeat(14).trim();
    const submitted = await upload(stack.baseUrl, await renderTextLine(long), 'model=textline-ocr');
    const job = await result(stack.baseUrl, submitted.body.job_id);
    assert.equal(job.result.truncated, true);
    assert.ok(job.result.original_width > 2048);
    assert.ok(job.result.text.startsWith('Invoice No 8841 Invoice No 8841'), job.result.text);
    assert.ok(job.result.text.length < long.length, 'the part beyond the cap was not read');
  });

  test('text-orientation tells an upside-down line (180) from an upright one (0)', async () => {
    for (const [upsideDown, label] of [[false, '0'], [true, '180']] as const) {
      for (const line of ['Invoice No 8841', 'QUARTERLY REPORT']) {
        const png = await renderTextLine(line, { upsideDown });
        const submitted = await upload(stack.baseUrl, png, 'model=text-orientation');
        const job = await result(stack.baseUrl, submitted.body.job_id);
        assert.equal(job.result.label, label, `${line} upside down: ${upsideDown}`);
        assert.ok(job.result.confidence > 0.5);
      }
    }
  });

  test('garbage bytes, an empty body and an oversized image each get their code; the worker keeps serving', async () => {
    const garbage = await upload(stack.baseUrl, Buffer.from('definitely not a png'), 'model=textline-ocr');
    assert.equal(garbage.status, 422);
    assert.equal(garbage.body.error.code, 'IMAGE_INVALID');
    const garbageJson = await request(stack.baseUrl, 'POST', '/v1/jobs', { model: 'textline-ocr', image: { data: Buffer.from('nope').toString('base64') } });
    assert.equal(garbageJson.status, 422);
    assert.equal(garbageJson.body.error.code, 'IMAGE_INVALID');

    const empty = await upload(stack.baseUrl, Buffer.alloc(0), 'model=textline-ocr');
    assert.equal(empty.status, 400);
    assert.equal(empty.body.error.code, 'EMPTY_BODY');

    // 60000 × 60000 claimed by a 100-byte file: refused from its header, never decoded.
    const bomb = await upload(stack.baseUrl, await pngClaiming(60_000, 60_000), 'model=textline-ocr');
    assert.equal(bomb.status, 413);
    assert.equal(bomb.body.error.code, 'IMAGE_TOO_LARGE');
    assert.deepEqual(bomb.body.error.details, { width: 60_000, height: 60_000, max_pixels: 4_000_000 });

    const notForImages = await upload(stack.baseUrl, rendered.get('x7') as Buffer, 'model=fraud-risk');
    assert.equal(notForImages.status, 422);
    assert.equal(notForImages.body.error.code, 'IMAGE_NOT_SUPPORTED');
    const gif = await upload(stack.baseUrl, Buffer.from('GIF89a'), 'model=textline-ocr', 'image/gif');
    assert.equal(gif.status, 415);
    const noModel = await upload(stack.baseUrl, rendered.get('x7') as Buffer, 'mode=textline-ocr');
    assert.equal(noModel.status, 400);
    assert.equal(noModel.body.error.code, 'INVALID_QUERY');

    const after = await upload(stack.baseUrl, rendered.get('inferq 42') as Buffer, 'model=textline-ocr');
    assert.equal((await result(stack.baseUrl, after.body.job_id)).result.text, 'inferq 42');
  });
});

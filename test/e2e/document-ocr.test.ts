import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { BundlePayload } from '../../packages/core/src/job-types.ts';
import { request } from '../support/http.ts';
import { pngClaiming, renderPage, type PageLine } from '../support/images.ts';
import { SAMPLE_PAGES as PAGES } from '../support/pages.ts';
import { REPO_ROOT, startService, startStack, type ServiceProcess, type Stack } from '../support/services.ts';

/** Levenshtein distance. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) current[j] = Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = current;
  }
  return previous[b.length] as number;
}

function iou(box: [number, number][], truth: PageLine['bounds']): number {
  const xs = box.map((p) => p[0]);
  const ys = box.map((p) => p[1]);
  const [l, t, r, b] = [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
  const w = Math.max(0, Math.min(r, truth[2]) - Math.max(l, truth[0]));
  const h = Math.max(0, Math.min(b, truth[3]) - Math.max(t, truth[1]));
  const inter = w * h;
  return inter / ((r - l) * (b - t) + (truth[2] - truth[0]) * (truth[3] - truth[1]) - inter);
}

async function upload(base: string, png: Buffer, query = 'model=document-ocr') {
  const res = await fetch(`${base}/v1/jobs?${query}`, { method: 'POST', body: png, headers: { 'content-type': 'image/png' } });
  return { status: res.status, body: (await res.json()) as any };
}

async function finished(base: string, jobId: string) {
  for (;;) {
    const job = await request(base, 'GET', `/v1/jobs/${jobId}?wait=60`);
    if (job.body.status !== 'queued' && job.body.status !== 'running') return job.body;
  }
}

const normalised = (text: string) => text.replace(/\s+/g, ' ').trim();

describe('document-ocr: a pipeline from page to text lines, each stage on its own queue; folders of pages from the CLI and schedules', () => {
  let stack: Stack;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'inferq-pages-'));
    for (const sub of ['pages', 'out']) mkdirSync(path.join(dir, sub));
    writeFileSync(path.join(dir, 'pages', 'a.png'), (await renderPage({ width: 600, height: 200, lines: [{ text: 'Invoice number 8841' }, { text: 'Total amount 1234' }] })).png);
    writeFileSync(path.join(dir, 'pages', 'b.png'), (await renderPage({ width: 300, height: 200, lines: [] })).png);
    writeFileSync(path.join(dir, 'pages', 'notes.txt'), 'not a page');
    stack = await startStack({ workerEnv: { INFERQ_MODELS: 'document-ocr,text-detection,text-orientation,textline-ocr' } });
  });
  after(() => stack.stop());

  test('rendered pages (fonts, sizes, lines upside down, two columns) are read line by line, in reading order', async (t) => {
    let chars = 0;
    let leastIou = 1;
    let errors = 0;
    for (const spec of PAGES) {
      const page = await renderPage(spec);
      const submitted = await upload(stack.baseUrl, page.png);
      assert.equal(submitted.status, 202, JSON.stringify(submitted.body));
      assert.match(submitted.body.job_id, /^document-ocr\./);
      const job = await finished(stack.baseUrl, submitted.body.job_id);
      assert.equal(job.status, 'succeeded', JSON.stringify(job.error));
      const lines = job.result.lines as { text: string; confidence: number; box: [number, number][]; angle: number; error?: unknown }[];
      // Every true line is found, by a box overlapping it (IoU ≥ 0.5), and the boxes come in the true reading order.
      const matched = page.lines.map((truth) => {
        const scored = lines.map((l, i) => ({ i, iou: iou(l.box, truth.bounds) })).sort((a, b) => b.iou - a.iou)[0];
        assert.ok(scored && scored.iou >= 0.5, `"${truth.text}" not found (best IoU ${scored?.iou.toFixed(2)})`);
        leastIou = Math.min(leastIou, scored.iou);
        return scored.i;
      });
      assert.equal(lines.length, page.lines.length, `one box per line: ${lines.map((l) => l.text).join(' | ')}`);
      assert.deepEqual(matched, page.lines.map((_, i) => i), 'reading order');
      page.lines.forEach((truth, i) => {
        const line = lines[i] as (typeof lines)[number];
        assert.equal(line.error, undefined);
        chars += truth.text.length;
        errors += editDistance(normalised(line.text), truth.text);
        assert.ok(Math.abs(Math.abs(line.angle) - (truth.upsideDown ? 180 : 0)) < 5, `"${truth.text}": angle ${line.angle}, upside down: ${truth.upsideDown}`);
        assert.ok(line.confidence > 0 && line.confidence <= 1);
      });
      assert.equal(job.result.text, lines.map((l) => l.text).join('\n'));
      // The stages, in order, each on its model's queue.
      const stages = job.timings.stages as { stage: string; model: string; version: string; ms: number; requests: number }[];
      assert.deepEqual(stages.map((s) => [s.stage, s.model, s.requests]), [['detection', 'text-detection', 1], ['orientation', 'text-orientation', page.lines.length], ['recognition', 'textline-ocr', page.lines.length]]);
      for (const s of stages) assert.ok(s.ms >= 0 && s.version === '1');
      assert.ok(job.timings.inference_ms > 0 && job.timings.total_ms >= job.timings.queue_ms);
    }
    const accuracy = 1 - errors / chars;
    t.diagnostic(`character accuracy ${(accuracy * 100).toFixed(2)} % (${errors} errors in ${chars} characters), least IoU ${leastIou.toFixed(2)}`);
    assert.ok(accuracy >= 0.98, `character accuracy ${(accuracy * 100).toFixed(2)} % (${errors} errors in ${chars} characters)`);
  });

  test('a page without text is an empty result, not an error', async () => {
    const blank = (await renderPage({ width: 400, height: 300, lines: [] })).png;
    const job = await finished(stack.baseUrl, (await upload(stack.baseUrl, blank)).body.job_id);
    assert.equal(job.status, 'succeeded');
    assert.deepEqual(job.result, { lines: [], text: '' });
    assert.deepEqual(job.timings.stages.map((s: { requests: number }) => s.requests), [1, 0, 0]);
  });

  test('an image over the pixel limit, or anything but an image, is refused at submit', async () => {
    const huge = await upload(stack.baseUrl, await pngClaiming(20_000, 20_000));
    assert.equal(huge.status, 413);
    assert.equal(huge.body.error.code, 'IMAGE_TOO_LARGE');
    const tensors = await request(stack.baseUrl, 'POST', '/v1/jobs', { model: 'document-ocr', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 1], data: [1] }] });
    assert.equal(tensors.status, 422);
    assert.equal(tensors.body.error.code, 'IMAGE_REQUIRED');
    const batch = await request(stack.baseUrl, 'POST', '/v1/batches', { model: 'document-ocr', rows: [{ features: { a: 1 } }] });
    assert.equal(batch.status, 422);
    assert.equal(batch.body.error.code, 'IMAGE_REQUIRED');
  });

  const expectPages = (text: string) => {
    const lines = text.trimEnd().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(lines.map((l) => [l.row, l.id]), [[0, 'a.png'], [1, 'b.png']], 'one line per image, in name order; notes.txt is not an image');
    assert.deepEqual(lines[0].result.lines.map((l: { text: string }) => l.text), ['Invoice number 8841', 'Total amount 1234']);
    assert.deepEqual(lines[1].result, { lines: [], text: '' });
  };

  test('inferq batch submit --input <folder>: one job per page, results in page order', async () => {
    const output = path.join(dir, 'cli.ndjson');
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'packages/cli/bin/inferq.mjs'), 'batch', 'submit', '--model', 'document-ocr', '--input', path.join(dir, 'pages'), '--output', output, '--url', stack.baseUrl], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const code = await new Promise((resolve) => child.on('exit', resolve));
    assert.equal(code, 0, stderr);
    assert.match(stderr, /2 of 2 images scored, 0 failed/);
    expectPages(readFileSync(output, 'utf8'));
  });

  test('a schedule whose input folder holds pages writes one result file per tick', async () => {
    const put = await request(stack.baseUrl, 'PUT', '/v1/schedules/pages', { cron: '*/2 * * * * *', model: 'document-ocr', input: path.join(dir, 'pages'), output: path.join(dir, 'out') });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    let written: string | undefined;
    for (let i = 0; i < 600 && !written; i++) {
      written = readdirSync(path.join(dir, 'out')).find((f) => f.startsWith('pages.') && f.endsWith('.scores.ndjson'));
      if (!written) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal((await request(stack.baseUrl, 'DELETE', '/v1/schedules/pages')).status, 204);
    assert.ok(written, 'a tick wrote its results');
    // The file is written as its rounds finish: wait for the tick to say it is done.
    for (let i = 0; i < 600 && !stack.workers[0]?.lines.some((l) => l.includes('scheduled images done')); i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(existsSync(path.join(dir, 'out', written)));
    expectPages(readFileSync(path.join(dir, 'out', written), 'utf8'));
  });
});

describe('document-ocr: a line that fails fails alone', () => {
  let stack: Stack;
  let reader: ServiceProcess | undefined;
  before(async () => {
    // No worker reads lines yet: the recognition requests wait in textline-ocr's queue.
    stack = await startStack({ workerEnv: { INFERQ_MODELS: 'document-ocr,text-detection,text-orientation' } });
  });
  after(async () => {
    await reader?.stop('SIGKILL');
    await stack.stop();
  });

  test('a canceled line request is marked on its line; the other lines are read', async () => {
    const page = await renderPage({ width: 700, height: 300, lines: ['Invoice number 8841', 'Total amount 1234', 'Customer Berlin 77'].map((text) => ({ text })) });
    const submitted = await upload(stack.baseUrl, page.png);
    const queue = stack.redis.queue('model-{textline-ocr}');
    try {
      let ids: string[] = [];
      for (let i = 0; i < 600 && ids.length < 3; i++) {
        const bundles = await queue.getJobs(['wait', 'prioritized']);
        ids = bundles.flatMap((b) => (b.data as BundlePayload).requests?.map((r) => r.id) ?? []);
        if (ids.length < 3) await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(ids.length, 3, 'the three line requests are queued for textline-ocr');
      const canceled = await request(stack.baseUrl, 'DELETE', `/v1/jobs/${ids[1]}`);
      assert.equal(canceled.status, 200);
    } finally {
      await queue.close();
    }
    reader = await startService('worker', { env: { ...stack.env, INFERQ_MODELS: 'textline-ocr' } });
    const job = await finished(stack.baseUrl, submitted.body.job_id);
    assert.equal(job.status, 'succeeded');
    const [first, second, third] = job.result.lines;
    assert.equal(first.text, 'Invoice number 8841');
    assert.equal(third.text, 'Customer Berlin 77');
    assert.equal(second.text, undefined);
    assert.equal(second.error.code, 'STAGE_FAILED');
    assert.equal(second.error.details.stage, 'recognition');
    assert.equal(second.box.length, 4, 'the failed line keeps its box');
    assert.equal(job.result.text, 'Invoice number 8841\nCustomer Berlin 77');
  });
});

/**
 * `npx tsx bench/ocr.ts [--quick]`: PP-OCRv4 text-line recognition through the queue (API +
 * worker + Redis, raw PNG uploads, long-polled) against the same model called in-process with the
 * same pre-processing, width buckets and batch size, on the same machine; and the worker's
 * event-loop lag while it recognises. Prints a table and, last, one JSON line.
 */
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { preprocessImage, widthBucket } from '../packages/inference/src/image-preprocess.ts';
import { loadModelRepository } from '../packages/inference/src/model-repository.ts';
import { concatRows, type RawTensor } from '../packages/inference/src/tensor-codec.ts';
import { REPO_ROOT } from '../test/support/services.ts';
import { renderTextLine } from '../test/support/images.ts';
import { BenchStack } from './lib/stack.ts';
import { round } from './lib/stats.ts';

const quick = process.argv.includes('--quick');
const TEXTS = ['x7', 'inferq 42', 'Invoice No 8841', 'QUARTERLY REPORT', 'Hello World 2024', 'ABCDEFG xyz 0123456789', 'The quick brown fox jumps over the lazy dog'];
const COPIES = quick ? 10 : 40;
const CONCURRENCY = 32;

const lines = await Promise.all(TEXTS.flatMap((text) => Array.from({ length: COPIES }, () => text)).map(async (text) => ({ text, png: await renderTextLine(text) })));
const manifest = (await loadModelRepository(path.join(REPO_ROOT, 'models'), { only: ['textline-ocr'] })).get('textline-ocr')?.versions[0];
if (manifest?.manifest?.preprocess?.kind !== 'image' || !manifest.artifactPath) throw new Error('textline-ocr is not available');
const spec = manifest.manifest.preprocess;
const maxBatch = manifest.manifest.max_batch_size;
const limits = { maxPixels: 16_777_216, maxWidth: 2048 };

// In-process: decode and pre-process every line, group by width bucket as the worker's batcher
// does, run batches of up to max_batch_size. Same intra-op threads as the bench's worker.
const stack = await BenchStack.start();
const session = await ort.InferenceSession.create(manifest.artifactPath, { intraOpNumThreads: stack.intraOpThreads, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
const inProcessStarted = performance.now();
const buckets = new Map<number, RawTensor[]>();
for (const line of lines) {
  const { tensor } = await preprocessImage(line.png, spec, limits);
  const bucket = widthBucket(tensor.dims[3] as number);
  buckets.set(bucket, [...(buckets.get(bucket) ?? []), tensor]);
}
let runs = 0;
for (const tensors of buckets.values()) {
  for (let i = 0; i < tensors.length; i += maxBatch) {
    const batch = concatRows(tensors.slice(i, i + maxBatch), spec.pad_value);
    await session.run({ [spec.input]: new ort.Tensor('float32', batch.data as Float32Array, batch.dims) });
    runs++;
  }
}
const inProcessMs = performance.now() - inProcessStarted;

// Through the queue: raw uploads from CONCURRENCY clients, each long-polling its job.
await stack.startApi();
const worker = await stack.startWorker('textline-ocr', { probe: true });
await stack.lagWindow(worker);
const base = stack.apiUrl as string;
let next = 0;
let wrong = 0;
const batchSizes: number[] = [];
const queueStarted = performance.now();
await Promise.all(
  Array.from({ length: CONCURRENCY }, async () => {
    for (let i = next++; i < lines.length; i = next++) {
      const line = lines[i] as (typeof lines)[number];
      const submitted = (await (await fetch(`${base}/v1/jobs?model=textline-ocr`, { method: 'POST', body: line.png, headers: { 'content-type': 'image/png' } })).json()) as { job_id: string };
      const job = (await (await fetch(`${base}/v1/jobs/${submitted.job_id}?wait=60`)).json()) as { result?: { text: string }; batch_size: number };
      if (job.result?.text !== line.text) wrong++;
      batchSizes.push(job.batch_size);
    }
  }),
);
const queueMs = performance.now() - queueStarted;
const lag = await stack.lagWindow(worker);
await stack.stop();

const inProcess = (lines.length / inProcessMs) * 1000;
const throughQueue = (lines.length / queueMs) * 1000;
const meanBatch = batchSizes.reduce((a, b) => a + b, 0) / batchSizes.length;
const rows: [string, string][] = [
  ['machine', `${os.availableParallelism()} cores, Node ${process.version}, onnxruntime-node ${ort.env.versions.node}`],
  ['lines', `${lines.length} (${TEXTS.length} texts, widths 40 to 1,400 px at height 48)`],
  ['in-process (pre-process + batched session.run)', `${round(inProcess)} lines/s, ${runs} runs`],
  ['through the queue (API + worker + Redis)', `${round(throughQueue)} lines/s, mean batch ${round(meanBatch)} lines, ${wrong} misread`],
  ['ratio queue / in-process', `${round(throughQueue / inProcess, 2)}×`],
  ['worker event-loop lag while recognising', `p50 ${round(lag.p50_ms)} ms, p99 ${round(lag.p99_ms)} ms, max ${round(lag.max_ms)} ms`],
];
for (const [k, v] of rows) console.log(`${k.padEnd(48)} ${v}`);
console.log(
  JSON.stringify({
    ocr_in_process_lines_per_s: round(inProcess),
    ocr_queue_lines_per_s: round(throughQueue),
    ocr_queue_ratio: round(throughQueue / inProcess, 2),
    ocr_mean_batch_lines: round(meanBatch),
    ocr_misread: wrong,
    ocr_worker_loop_lag_p99_ms: round(lag.p99_ms),
  }),
);

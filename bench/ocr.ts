/**
 * `npx tsx bench/ocr.ts [--quick]`: PP-OCRv4 text-line recognition through the queue (API +
 * worker + Redis, raw PNG uploads, long-polled) against the same model called in-process with the
 * same pre-processing, width buckets and batch size, on the same machine; and the worker's
 * event-loop lag while it recognises. Prints a table and, last, one JSON line.
 */
import os from 'node:os';
import * as ort from 'onnxruntime-node';
import { BenchStack } from './lib/stack.ts';
import { ocrInProcess, renderOcrLines, OCR_TEXTS } from './lib/ocr-lines.ts';
import { round } from './lib/stats.ts';

const quick = process.argv.includes('--quick');
const COPIES = quick ? 10 : 40;
const CONCURRENCY = 32;

const lines = await renderOcrLines(COPIES);
// In-process: decode and pre-process every line, group by width bucket as the worker's batcher
// does, run batches of up to max_batch_size. Same intra-op threads as the bench's worker.
const stack = await BenchStack.start();
const inProcessRun = await ocrInProcess(lines, stack.intraOpThreads);
const runs = inProcessRun.runs;

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

const inProcess = inProcessRun.linesPerSecond;
const throughQueue = (lines.length / queueMs) * 1000;
const meanBatch = batchSizes.reduce((a, b) => a + b, 0) / batchSizes.length;
const rows: [string, string][] = [
  ['machine', `${os.availableParallelism()} cores, Node ${process.version}, onnxruntime-node ${ort.env.versions.node}`],
  ['lines', `${lines.length} (${OCR_TEXTS.length} texts, widths 40 to 1,400 px at height 48)`],
  ['in-process (pre-process + batched session.run)', `${round(inProcess)} lines/s, ${runs} runs`],
  ['in-process time: pre-process / session.run', `${round(inProcessRun.preprocessMs)} ms / ${round(inProcessRun.runMs)} ms`],
  ['through the queue (API + worker + Redis)', `${round(throughQueue)} lines/s, mean batch ${round(meanBatch)} lines, ${wrong} misread`],
  ['ratio queue / in-process', `${round(throughQueue / inProcess, 2)}×`],
  ['worker event-loop lag while recognising', `p50 ${round(lag.p50_ms)} ms, p99 ${round(lag.p99_ms)} ms, max ${round(lag.max_ms)} ms`],
];
for (const [k, v] of rows) console.log(`${k.padEnd(48)} ${v}`);
console.log(
  JSON.stringify({
    ocr_in_process_lines_per_s: round(inProcess),
    ocr_in_process_preprocess_ms: round(inProcessRun.preprocessMs),
    ocr_in_process_run_ms: round(inProcessRun.runMs),
    ocr_queue_lines_per_s: round(throughQueue),
    ocr_queue_ratio: round(throughQueue / inProcess, 2),
    ocr_mean_batch_lines: round(meanBatch),
    ocr_misread: wrong,
    ocr_worker_loop_lag_p99_ms: round(lag.p99_ms),
  }),
);

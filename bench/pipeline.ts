/**
 * `npx tsx bench/pipeline.ts [--quick]`: whole pages through the document-ocr pipeline, queued
 * (API + one worker serving the pipeline and its three models + Redis; raw PNG uploads,
 * long-polled, a few pages in flight), against the same pipeline run in one process: the same
 * pre-processing, DB post-processing, crops, orientation turn, width buckets and batch sizes,
 * page after page, with each page's lines batched together. Prints pages/s both ways, their
 * ratio, the stage breakdown from the jobs' `timings.stages`, and, last, one JSON line.
 */
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { cropLine, decodePage, lengthened, type Quad } from '../apps/worker/src/line-crops.ts';
import { preprocessImage, widthBucket } from '../packages/inference/src/image-preprocess.ts';
import type { ImagePreprocess, ModelManifest, PagePreprocess } from '../packages/inference/src/manifest.ts';
import { loadModelRepository, type ModelVersionEntry } from '../packages/inference/src/model-repository.ts';
import { preprocessPage } from '../packages/inference/src/page-preprocess.ts';
import { ResultBuilder } from '../packages/inference/src/postprocess.ts';
import { concatRows, type RawTensor } from '../packages/inference/src/tensor-codec.ts';
import { renderPage } from '../test/support/images.ts';
import { SAMPLE_PAGES } from '../test/support/pages.ts';
import { REPO_ROOT } from '../test/support/services.ts';
import { BenchStack } from './lib/stack.ts';
import { round } from './lib/stats.ts';

const quick = process.argv.includes('--quick');
const COPIES = quick ? 2 : 6;
const IN_FLIGHT = 4;
const MODELS = ['document-ocr', 'text-detection', 'text-orientation', 'textline-ocr'];

const pages = await Promise.all(Array.from({ length: COPIES }, () => SAMPLE_PAGES).flat().map((spec) => renderPage(spec)));
const lineCount = pages.reduce((n, p) => n + p.lines.length, 0);
const repository = await loadModelRepository(path.join(REPO_ROOT, 'models'), { only: MODELS });
const entry = (name: string) => {
  const found = repository.get(name)?.versions.at(-1);
  if (found?.state !== 'available') throw new Error(`${name} is not available: ${found?.reason}`);
  return found as ModelVersionEntry & { manifest: ModelManifest };
};
const pipeline = entry('document-ocr').pipeline;
if (!pipeline) throw new Error('document-ocr is not a pipeline');
const [, orientationStage, recognitionStage] = pipeline.stages;
const margin = (stage: typeof orientationStage) => (stage && stage.input !== 'request' ? stage.input.margin : 0);
const limits = { maxPixels: 16_777_216, maxWidth: 2048 };

// ---- in one process ------------------------------------------------------------------------
const stack = await BenchStack.start();
const load = async (name: string) => {
  const e = entry(name);
  const session = await ort.InferenceSession.create(e.artifactPath as string, { intraOpNumThreads: stack.intraOpThreads, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
  return { manifest: e.manifest, session, results: await ResultBuilder.load(e.manifest, e.dir) };
};
const [detection, orientation, recognition] = await Promise.all(['text-detection', 'text-orientation', 'textline-ocr'].map(load)) as [Awaited<ReturnType<typeof load>>, Awaited<ReturnType<typeof load>>, Awaited<ReturnType<typeof load>>];

async function runBatched(model: typeof orientation, tensors: RawTensor[], key: (t: RawTensor) => string): Promise<Record<string, unknown>[]> {
  const spec = model.manifest.preprocess as ImagePreprocess;
  const out: Record<string, unknown>[] = new Array(tensors.length);
  const groups = new Map<string, number[]>();
  tensors.forEach((t, i) => {
    groups.set(key(t), [...(groups.get(key(t)) ?? []), i]);
  });
  for (const indexes of groups.values()) {
    for (let i = 0; i < indexes.length; i += model.manifest.max_batch_size) {
      const slice = indexes.slice(i, i + model.manifest.max_batch_size);
      const batch = concatRows(slice.map((j) => tensors[j] as RawTensor), spec.pad_value);
      const result = await model.session.run({ [spec.input]: new ort.Tensor('float32', batch.data as Float32Array, batch.dims) });
      const outputs = Object.fromEntries(Object.entries(result).map(([n, t]) => [n, { type: 'float32', dims: [...t.dims], data: t.data as Float32Array } as RawTensor]));
      const built = model.results.build('predictions', outputs) as { predictions: Record<string, unknown>[] };
      slice.forEach((j, k) => {
        out[j] = built.predictions[k] as Record<string, unknown>;
      });
    }
  }
  return out;
}

const stageMs = { detection: 0, orientation: 0, recognition: 0, crops: 0 };
let inProcessWrong = 0;
const inProcessStarted = performance.now();
for (const page of pages) {
  let t = performance.now();
  const pre = await preprocessPage(page.png, detection.manifest.preprocess as PagePreprocess, limits);
  const det = await detection.session.run({ x: new ort.Tensor('float32', pre.tensor.data as Float32Array, pre.tensor.dims) });
  const map = Object.values(det)[0] as ort.Tensor;
  const { boxes } = detection.results.build('prediction', { [detection.manifest.outputs[0]?.name as string]: { type: 'float32', dims: [...map.dims], data: map.data as Float32Array } }, { notes: pre.notes }) as { boxes: { box: Quad }[] };
  stageMs.detection += performance.now() - t;
  t = performance.now();
  const raw = await decodePage(page.png, limits.maxPixels);
  const crops = await Promise.all(boxes.map((b) => cropLine(raw, lengthened(b.box, margin(orientationStage)))));
  stageMs.crops += performance.now() - t;
  t = performance.now();
  const cls = await Promise.all(crops.map(async (c) => (await preprocessImage(c, orientation.manifest.preprocess as ImagePreprocess, limits)).tensor));
  const turns = (await runBatched(orientation, cls, () => '')).map((p) => p.label === orientationStage?.turns?.label && (p.confidence as number) >= (orientationStage?.turns?.min_confidence ?? 1));
  stageMs.orientation += performance.now() - t;
  t = performance.now();
  const turned = await Promise.all(boxes.map((b, i) => cropLine(raw, lengthened(b.box, margin(recognitionStage)), { upsideDown: turns[i] === true })));
  const rec = await Promise.all(turned.map(async (c) => (await preprocessImage(c, recognition.manifest.preprocess as ImagePreprocess, limits)).tensor));
  const texts = (await runBatched(recognition, rec, (tensor) => String(widthBucket(tensor.dims[3] as number)))).map((p) => p.text as string);
  stageMs.recognition += performance.now() - t;
  inProcessWrong += page.lines.filter((l, i) => texts[i]?.replace(/\s+/g, ' ') !== l.text).length;
}
const inProcessMs = performance.now() - inProcessStarted;

// ---- through the queue ---------------------------------------------------------------------
await stack.startApi();
const worker = await stack.startWorker(MODELS.join(','), { probe: true });
await stack.lagWindow(worker);
const base = stack.apiUrl as string;
let next = 0;
let queueWrong = 0;
const stages = new Map<string, { ms: number; requests: number; pages: number }>();
const queueStarted = performance.now();
await Promise.all(
  Array.from({ length: IN_FLIGHT }, async () => {
    for (let i = next++; i < pages.length; i = next++) {
      const page = pages[i] as (typeof pages)[number];
      const submitted = (await (await fetch(`${base}/v1/jobs?model=document-ocr`, { method: 'POST', body: page.png, headers: { 'content-type': 'image/png' } })).json()) as { job_id: string };
      let job: { status: string; result?: { lines: { text?: string }[] }; timings?: { stages?: { stage: string; ms: number; requests: number }[] } };
      do job = (await (await fetch(`${base}/v1/jobs/${submitted.job_id}?wait=60`)).json()) as typeof job;
      while (job.status === 'queued' || job.status === 'running');
      const texts = job.result?.lines.map((l) => l.text) ?? [];
      queueWrong += page.lines.filter((l, k) => texts[k]?.replace(/\s+/g, ' ') !== l.text).length;
      for (const s of job.timings?.stages ?? []) {
        const sum = stages.get(s.stage) ?? { ms: 0, requests: 0, pages: 0 };
        stages.set(s.stage, { ms: sum.ms + s.ms, requests: sum.requests + s.requests, pages: sum.pages + 1 });
      }
    }
  }),
);
const queueMs = performance.now() - queueStarted;
const lag = await stack.lagWindow(worker);
await stack.stop();

const inProcess = (pages.length / inProcessMs) * 1000;
const throughQueue = (pages.length / queueMs) * 1000;
const perPage = (ms: number) => `${round(ms / pages.length)} ms/page`;
const rows: [string, string][] = [
  ['machine', `${os.availableParallelism()} cores, Node ${process.version}, onnxruntime-node ${ort.env.versions.node}`],
  ['pages', `${pages.length} (${lineCount} lines; ${SAMPLE_PAGES.length} layouts × ${COPIES})`],
  ['in one process (page after page)', `${round(inProcess, 2)} pages/s, ${inProcessWrong} lines misread`],
  ['  detection / crops / orientation / recognition', [stageMs.detection, stageMs.crops, stageMs.orientation, stageMs.recognition].map(perPage).join(' / ')],
  [`through the queue (${IN_FLIGHT} pages in flight)`, `${round(throughQueue, 2)} pages/s, ${queueWrong} lines misread`],
  ...[...stages].map(([stage, s]): [string, string] => [`  stage ${stage}`, `${round(s.ms / s.pages)} ms/page (first queued to last answered), ${round(s.requests / s.pages, 1)} requests/page`]),
  ['ratio queue / one process', `${round(throughQueue / inProcess, 2)}×`],
  ['worker event-loop lag', `p50 ${round(lag.p50_ms)} ms, p99 ${round(lag.p99_ms)} ms, max ${round(lag.max_ms)} ms`],
];
for (const [k, v] of rows) console.log(`${k.padEnd(48)} ${v}`);
console.log(
  JSON.stringify({
    pipeline_in_process_pages_per_s: round(inProcess, 3),
    pipeline_queue_pages_per_s: round(throughQueue, 3),
    pipeline_queue_ratio: round(throughQueue / inProcess, 2),
    pipeline_stage_ms_per_page: Object.fromEntries([...stages].map(([stage, s]) => [stage, round(s.ms / s.pages)])),
    pipeline_lines_misread: { in_process: inProcessWrong, queue: queueWrong },
    pipeline_worker_loop_lag_p99_ms: round(lag.p99_ms),
  }),
);

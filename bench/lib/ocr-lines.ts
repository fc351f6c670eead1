import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { preprocessImage, widthBucket } from '../../packages/inference/src/image-preprocess.ts';
import { loadModelRepository, type ModelVersionEntry } from '../../packages/inference/src/model-repository.ts';
import { concatRows, type RawTensor } from '../../packages/inference/src/tensor-codec.ts';
import { sessionThreadOptions } from '../../packages/inference/src/thread-policy.ts';
import { renderTextLine } from '../../test/support/images.ts';
import { REPO_ROOT } from '../../test/support/services.ts';

/** Seven printed lines, 40 to 1,400 px wide at height 48: short ones batch together, long ones apart. */
export const OCR_TEXTS = ['x7', 'inferq 42', 'Invoice No 8841', 'QUARTERLY REPORT', 'Hello World 2024', 'ABCDEFG xyz 0123456789', 'The quick brown fox jumps over the lazy dog'];
export const OCR_LIMITS = { maxPixels: 16_777_216, maxWidth: 2048 };

export interface OcrLine {
  text: string;
  png: Buffer;
}

/** `copies` of each text, interleaved as clients would send them. */
export async function renderOcrLines(copies: number): Promise<OcrLine[]> {
  const pngs = await Promise.all(OCR_TEXTS.map((text) => renderTextLine(text)));
  return Array.from({ length: copies }, () => OCR_TEXTS.map((text, i) => ({ text, png: pngs[i] as Buffer }))).flat();
}

export async function textlineOcrVersion(): Promise<ModelVersionEntry & { artifactPath: string }> {
  const entry = (await loadModelRepository(path.join(REPO_ROOT, 'models'), { only: ['textline-ocr'] })).get('textline-ocr')?.versions[0];
  if (!entry?.manifest?.preprocess || !entry.artifactPath) throw new Error('textline-ocr is not available');
  return entry as ModelVersionEntry & { artifactPath: string };
}

export interface InProcessOcr {
  linesPerSecond: number;
  /** Wall time decoding, resizing and normalising every line (all at once: libvips runs them in parallel). */
  preprocessMs: number;
  /** Wall time in session.run, batches of up to max_batch_size lines of one width bucket. */
  runMs: number;
  runs: number;
}

/**
 * The OCR path with nothing around it, in this process: pre-process every line, group by width
 * bucket as the worker's batcher does, run batches of up to max_batch_size with inferq's session
 * options. What the queue is measured against.
 */
export async function ocrInProcess(lines: OcrLine[], intraOpThreads: number): Promise<InProcessOcr> {
  const entry = await textlineOcrVersion();
  const manifest = entry.manifest;
  const spec = manifest?.preprocess;
  if (!manifest || spec?.kind !== 'image') throw new Error('textline-ocr has no image preprocess block');
  const session = await ort.InferenceSession.create(entry.artifactPath, { ...sessionThreadOptions({ intraOpThreads }), graphOptimizationLevel: 'all', logSeverityLevel: 4 });
  // Warm-up on the first lines, as the worker warms its session before taking jobs.
  const warm = await preprocessImage((lines[0] as OcrLine).png, spec, OCR_LIMITS);
  await session.run({ [spec.input]: new ort.Tensor('float32', warm.tensor.data as Float32Array, warm.tensor.dims) });
  const started = performance.now();
  const tensors = (await Promise.all(lines.map((line) => preprocessImage(line.png, spec, OCR_LIMITS)))).map((image) => image.tensor);
  const preprocessed = performance.now();
  const buckets = new Map<number, RawTensor[]>();
  for (const tensor of tensors) {
    const bucket = widthBucket(tensor.dims[3] as number);
    buckets.set(bucket, [...(buckets.get(bucket) ?? []), tensor]);
  }
  let runs = 0;
  for (const group of buckets.values()) {
    for (let i = 0; i < group.length; i += manifest.max_batch_size) {
      const batch = concatRows(group.slice(i, i + manifest.max_batch_size), spec.pad_value);
      await session.run({ [spec.input]: new ort.Tensor('float32', batch.data as Float32Array, batch.dims) });
      runs++;
    }
  }
  const finished = performance.now();
  await session.release();
  return { linesPerSecond: (lines.length * 1000) / (finished - started), preprocessMs: preprocessed - started, runMs: finished - preprocessed, runs };
}

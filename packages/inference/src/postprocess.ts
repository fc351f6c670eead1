import { readFile } from 'node:fs/promises';
import { InferqError } from '@inferq/core/errors';
import type { ResponseForm } from '@inferq/core/job-types';
import { resolveFileRef } from './file-ref.ts';
import type { ModelManifest, Postprocess } from './manifest.ts';
import { detectBoxes } from './db-postprocess.ts';
import { toWire, type RawTensor } from './tensor-codec.ts';

export type Prediction = Record<string, unknown>;

/** Facts about one item's input that its result should carry (e.g. an image line that was cut). */
export type ItemNotes = Record<string, unknown>;

type CtcPostprocess = Extract<Postprocess, { kind: 'ctc-greedy' }>;

function rowSlice(tensor: RawTensor, row: number): ArrayLike<number> {
  const perRow = tensor.data.length / (tensor.dims[0] ?? 1);
  const slice = tensor.data.subarray(row * perRow, (row + 1) * perRow);
  return slice instanceof BigInt64Array ? Array.from(slice, Number) : (slice as ArrayLike<number>);
}

function round(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}

/**
 * JSON has no NaN or infinity: such a value would reach the client as `null`, a silent wrong
 * answer (`{"probability": null, "label": "legit"}`). The job fails instead.
 */
function nonFinite(output: string, row: number): InferqError {
  return new InferqError('INFERENCE_FAILED', `the model produced a NaN or infinite value in output ${output} for row ${row}`, { details: { output, row } });
}

function finite(value: number, output: string, row: number): number {
  if (!Number.isFinite(value)) throw nonFinite(output, row);
  return value;
}

function assertFiniteTensor(name: string, tensor: RawTensor): void {
  const data = tensor.data;
  if (!(data instanceof Float32Array || data instanceof Float64Array)) return;
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i] as number)) throw nonFinite(name, Math.floor(i / (data.length / (tensor.dims[0] || 1))));
}

/**
 * Turns a job's output tensors into its `result`, as the manifest's postprocess says. Created once
 * per model version at load, so resources such as a CTC dictionary are read once.
 */
export class ResultBuilder {
  private constructor(
    private readonly manifest: ModelManifest,
    /** CTC class index → character ('' for the blank). */
    private readonly ctcClasses: string[] | undefined,
  ) {}

  static async load(manifest: ModelManifest, versionDir: string): Promise<ResultBuilder> {
    const post = manifest.postprocess;
    if (post?.kind !== 'ctc-greedy') return new ResultBuilder(manifest, undefined);
    const text = await readFile(resolveFileRef(versionDir, post.dictionary), 'utf8');
    const lines = text.split(/\r?\n/);
    if (lines.at(-1) === '') lines.pop();
    const classes = [...lines];
    if (post.space_char) classes.push(' ');
    classes.splice(post.blank, 0, '');
    return new ResultBuilder(manifest, classes);
  }

  /** Shapes one job's outputs the way its request asked: V2 `outputs`, or predictions per row. */
  build(form: ResponseForm, outputs: Record<string, RawTensor>, options: { includeOutputs?: boolean; notes?: ItemNotes } = {}): unknown {
    if (form === 'outputs') return { outputs: this.wireOutputs(outputs) };
    const rows = Object.values(outputs)[0]?.dims[0] ?? 0;
    const predictions = Array.from({ length: rows }, (_, row) => ({ ...this.predictRow(outputs, row, options.notes), ...options.notes }));
    const result: Record<string, unknown> = form === 'prediction' ? { ...predictions[0] } : { predictions };
    if (options.includeOutputs) result.outputs = this.wireOutputs(outputs);
    return result;
  }

  private wireOutputs(outputs: Record<string, RawTensor>) {
    // Manifest order, so responses are stable whatever order the runtime returns them in.
    const names = this.manifest.outputs.map((o) => o.name).filter((n) => n in outputs);
    for (const name of names) assertFiniteTensor(name, outputs[name] as RawTensor);
    return names.map((name) => toWire(name, outputs[name] as RawTensor));
  }

  private predictRow(outputs: Record<string, RawTensor>, row: number, notes: ItemNotes | undefined): Prediction {
    const post = this.manifest.postprocess;
    if (!post) {
      const prediction: Prediction = {};
      for (const [name, tensor] of Object.entries(outputs)) {
        const values = Array.from(rowSlice(tensor, row), (value) => finite(value, name, row));
        prediction[name] = values.length === 1 ? values[0] : values;
      }
      return prediction;
    }
    const output = outputs[post.output] as RawTensor;
    switch (post.kind) {
      case 'binary-threshold': {
        const probability = finite(rowSlice(output, row)[0] ?? Number.NaN, post.output, row);
        const positive = probability >= post.threshold;
        return { probability: round(probability), label: this.manifest.labels ? this.manifest.labels[positive ? 1 : 0] : positive };
      }
      case 'argmax':
        return this.argmax(Array.from(rowSlice(output, row), (value) => finite(value, post.output, row)), post.softmax);
      case 'ctc-greedy':
        return this.ctcGreedy(output, row, post);
      case 'db': {
        const [, , mapHeight = 0, mapWidth = 0] = output.dims;
        // The page's own size comes from its preprocessing; without it, boxes stay in map pixels.
        const page = { width: Number(notes?.width ?? mapWidth), height: Number(notes?.height ?? mapHeight) };
        const boxes = detectBoxes(rowSlice(output, row), mapWidth, mapHeight, page, {
          threshold: post.threshold,
          boxThreshold: post.box_threshold,
          unclipRatio: post.unclip_ratio,
          minSize: post.min_size,
          maxCandidates: post.max_candidates,
        });
        return { boxes, ...page };
      }
    }
  }

  private argmax(values: number[], softmax: boolean): Prediction {
    let scores = values;
    if (softmax) {
      const max = Math.max(...values);
      const exps = values.map((v) => Math.exp(v - max));
      const sum = exps.reduce((a, b) => a + b, 0);
      scores = exps.map((e) => e / sum);
    }
    let best = 0;
    for (let i = 1; i < scores.length; i++) if ((scores[i] as number) > (scores[best] as number)) best = i;
    const labels = this.manifest.labels;
    return {
      label: labels?.[best] ?? best,
      confidence: round(scores[best] ?? 0),
      scores: Object.fromEntries(scores.map((s, i) => [labels?.[i] ?? String(i), round(s)])),
    };
  }

  /** Best class per time step; repeats collapse, blanks drop; confidence = mean probability of kept characters. */
  private ctcGreedy(output: RawTensor, row: number, post: CtcPostprocess): Prediction {
    const classes = this.ctcClasses as string[];
    const [, steps = 0, width = 0] = output.dims;
    const probs = rowSlice(output, row);
    const chars: string[] = [];
    const confidences: number[] = [];
    let previous = -1;
    for (let t = 0; t < steps; t++) {
      const base = t * width;
      let best = 0;
      let bestScore = probs[base] as number;
      for (let c = 1; c < width; c++) {
        const score = probs[base + c] as number;
        if (score > bestScore) {
          best = c;
          bestScore = score;
        }
      }
      if (best !== post.blank && best !== previous) {
        chars.push(classes[best] ?? '');
        confidences.push(finite(bestScore, post.output, row));
      }
      previous = best;
    }
    // Margins of the line image decode as spaces; they are not part of the text.
    let start = 0;
    let end = chars.length;
    while (start < end && chars[start] === ' ') start++;
    while (end > start && chars[end - 1] === ' ') end--;
    const kept = confidences.slice(start, end);
    return {
      text: chars.slice(start, end).join(''),
      confidence: kept.length === 0 ? 0 : round(kept.reduce((a, b) => a + b, 0) / kept.length),
    };
  }
}

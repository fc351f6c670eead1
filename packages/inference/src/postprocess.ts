import type { ResponseForm } from '@inferq/core/job-types';
import type { ModelManifest } from './manifest.ts';
import { toWire, type RawTensor } from './tensor-codec.ts';

export type Prediction = Record<string, unknown>;

function rowValues(tensor: RawTensor, row: number): number[] {
  const perRow = tensor.data.length / (tensor.dims[0] ?? 1);
  const slice = tensor.data.subarray(row * perRow, (row + 1) * perRow);
  return slice instanceof BigInt64Array ? Array.from(slice, Number) : Array.from(slice as ArrayLike<number>);
}

function round(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}

function predictRow(manifest: ModelManifest, outputs: Record<string, RawTensor>, row: number): Prediction {
  const post = manifest.postprocess;
  if (!post) {
    const prediction: Prediction = {};
    for (const [name, tensor] of Object.entries(outputs)) {
      const values = rowValues(tensor, row);
      prediction[name] = values.length === 1 ? values[0] : values;
    }
    return prediction;
  }
  const values = rowValues(outputs[post.output] as RawTensor, row);
  if (post.kind === 'binary-threshold') {
    const probability = values[0] ?? 0;
    const positive = probability >= post.threshold;
    const labels = manifest.labels;
    return { probability: round(probability), label: labels ? labels[positive ? 1 : 0] : positive };
  }
  let scores = values;
  if (post.softmax) {
    const max = Math.max(...values);
    const exps = values.map((v) => Math.exp(v - max));
    const sum = exps.reduce((a, b) => a + b, 0);
    scores = exps.map((e) => e / sum);
  }
  let best = 0;
  for (let i = 1; i < scores.length; i++) if ((scores[i] as number) > (scores[best] as number)) best = i;
  return {
    label: manifest.labels?.[best] ?? best,
    confidence: round(scores[best] ?? 0),
    scores: Object.fromEntries(scores.map((s, i) => [manifest.labels?.[i] ?? String(i), round(s)])),
  };
}

/** Shapes one job's outputs the way its request asked: V2 `outputs`, or predictions per row. */
export function buildResult(manifest: ModelManifest, form: ResponseForm, outputs: Record<string, RawTensor>): unknown {
  if (form === 'outputs') {
    // Outputs in manifest order so responses are stable whatever order the runtime returns.
    const names = manifest.outputs.map((o) => o.name).filter((n) => n in outputs);
    return { outputs: names.map((name) => toWire(name, outputs[name] as RawTensor)) };
  }
  const first = Object.values(outputs)[0];
  const rows = first?.dims[0] ?? 0;
  const predictions = Array.from({ length: rows }, (_, row) => predictRow(manifest, outputs, row));
  return form === 'prediction' ? predictions[0] : { predictions };
}

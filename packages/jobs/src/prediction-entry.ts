import { createHash } from 'node:crypto';
import type { FinishedJobRecord, RoutedBy } from '@inferq/core/job-types';
import type { PredictionLogEntry } from '@inferq/core/prediction-log-script';
import { sampledIn, type PredictionRecord } from '@inferq/core/prediction-record';
import type { QueuedTensor } from '@inferq/core/tensor';
import type { ModelManifest } from '@inferq/inference/manifest';
import { unpackTensor } from '@inferq/inference/tensor-codec';

/** What the log keeps of a request's input: values, or a digest; and one tabular row for drift. */
export interface DescribedInputs {
  inputs?: unknown;
  input_digest?: { sha256: string; bytes: number };
  /** The feature values in manifest order, when the input is exactly one tabular row. */
  driftRow?: number[];
}

/** Float32 values as the client most likely wrote them (0.05, not 0.05000000074505806). */
function plain(value: number | bigint, float32: boolean): number {
  const n = Number(value);
  return float32 && Number.isFinite(n) ? Number(n.toPrecision(7)) : n;
}

/**
 * Tabular features are kept as `{name: value}` (a list of them for several rows); tensors and
 * images as a sha256 digest and byte count, or themselves when the manifest's
 * `prediction_log.store_inputs` says so.
 */
export function describeInputs(manifest: ModelManifest, inputs: readonly QueuedTensor[], image?: string): DescribedInputs {
  const features = manifest.features;
  const only = inputs.length === 1 ? inputs[0] : undefined;
  if (features && image === undefined && only && only.name === features.input && only.shape.length === 2 && only.shape[1] === features.names.length) {
    const rows = only.shape[0] ?? 0;
    const data = unpackTensor(only).data as ArrayLike<number | bigint>;
    const float32 = only.datatype === 'FP32';
    const width = features.names.length;
    const row = (r: number) => Array.from({ length: width }, (_, j) => plain(data[r * width + j] as number | bigint, float32));
    const named = (values: number[]) => Object.fromEntries(features.names.map((name, j) => [name, values[j]]));
    if (rows === 1) {
      const values = row(0);
      return { inputs: named(values), driftRow: values };
    }
    return { inputs: Array.from({ length: rows }, (_, r) => named(row(r))) };
  }
  if (manifest.prediction_log.store_inputs) return { inputs: image !== undefined ? { image } : inputs };
  const hash = createHash('sha256');
  let bytes = 0;
  for (const t of inputs) {
    const raw = 'bytes' in t ? Buffer.from(t.bytes, 'base64') : Buffer.from(JSON.stringify(t.data));
    hash.update(raw);
    bytes += raw.byteLength;
  }
  if (image !== undefined) {
    const raw = Buffer.from(image, 'base64');
    hash.update(raw);
    bytes += raw.byteLength;
  }
  return { input_digest: { sha256: hash.digest('hex'), bytes } };
}

/** The parts of a record every kind of prediction shares. */
interface RecordBase {
  id: string;
  tenant: string;
  model: string;
  version: string;
}

/** Builds the log entry of a record (undefined when the model's sample rate leaves it out). */
export function predictionEntry(base: RecordBase, fields: Omit<PredictionRecord, keyof RecordBase>, manifest: ModelManifest | undefined, described: DescribedInputs | undefined, options: { labelled?: boolean; routingKey?: string | undefined } = {}): PredictionLogEntry | undefined {
  // A shadow run is decided by its primary's id, so both halves are logged or neither is.
  if (!sampledIn(fields.job_id ?? base.id, manifest?.prediction_log.sample_rate ?? 1)) return undefined;
  const record: PredictionRecord = {
    ...base,
    ...fields,
    ...(described?.inputs !== undefined ? { inputs: described.inputs } : {}),
    ...(described?.input_digest ? { input_digest: described.input_digest } : {}),
  };
  return {
    model: base.model,
    version: base.version,
    id: base.id,
    tenant: base.tenant,
    routingKey: options.routingKey,
    record: JSON.stringify(record),
    labelled: options.labelled ?? true,
    ...(described?.driftRow ? { driftRow: JSON.stringify(described.driftRow) } : {}),
  };
}

/** The request fields a finished job's log entry needs. */
export interface LoggedRequest {
  inputs: QueuedTensor[];
  image?: string;
  request_id?: string;
  routing_key?: string;
  created_at: number;
}

/** The log entry of a finished job, from its record and its request. */
export function jobPredictionEntry(record: FinishedJobRecord, request: LoggedRequest, manifest: ModelManifest | undefined): PredictionLogEntry | undefined {
  const described = manifest ? describeInputs(manifest, request.inputs, request.image) : undefined;
  return predictionEntry(
    { id: record.job_id, tenant: record.tenant ?? 'default', model: record.model, version: record.model_version },
    {
      job_id: record.job_id,
      ...(request.request_id ? { request_id: request.request_id } : {}),
      ...(request.routing_key ? { routing_key: request.routing_key } : {}),
      ...(record.routed_by ? { routed_by: record.routed_by as RoutedBy } : {}),
      status: record.status,
      ...(record.error ? { error_code: record.error.code } : {}),
      created_at: request.created_at,
      queue_ms: record.timings?.queue_ms ?? null,
      inference_ms: record.timings?.inference_ms ?? null,
      total_ms: record.timings?.total_ms ?? null,
      batch_size: record.batch_size,
      ...(record.result !== undefined ? { prediction: predictionOf(record.result) } : {}),
    },
    manifest,
    described,
    { routingKey: request.routing_key },
  );
}

/** The answer without raw V2 tensors the client asked for beside it (the log keeps the prediction). */
export function predictionOf(result: unknown): unknown {
  if (result && typeof result === 'object' && !Array.isArray(result) && 'outputs' in result && Object.keys(result).length > 1) {
    const { outputs: _raw, ...rest } = result as Record<string, unknown>;
    return rest;
  }
  return result;
}

/** Each row's inputs described on its own, for a chunk of rows concatenated along the first dimension. */
export function describeRows(manifest: ModelManifest, inputs: readonly QueuedTensor[], rows: number): DescribedInputs[] {
  const features = manifest.features;
  const only = inputs.length === 1 ? inputs[0] : undefined;
  if (features && only && only.name === features.input && only.shape.length === 2 && only.shape[1] === features.names.length && only.shape[0] === rows) {
    // Tabular rows (batch scoring): read each row's values straight from the decoded chunk, rather
    // than re-encoding every row to describe it (that was most of a batch's logging cost).
    const data = unpackTensor(only).data as ArrayLike<number | bigint>;
    const float32 = only.datatype === 'FP32';
    const { names } = features;
    const width = names.length;
    return Array.from({ length: rows }, (_, r) => {
      const values: number[] = new Array(width);
      const named: Record<string, number> = {};
      for (let j = 0; j < width; j++) {
        const value = plain(data[r * width + j] as number | bigint, float32);
        values[j] = value;
        named[names[j] as string] = value;
      }
      return { inputs: named, driftRow: values };
    });
  }
  const whole = inputs.map((t) => ({ t, raw: unpackTensor(t) }));
  return Array.from({ length: rows }, (_, r) =>
    describeInputs(
      manifest,
      whole.map(({ t, raw }) => {
        const perRow = raw.data.length / rows;
        const data = raw.data.slice(r * perRow, (r + 1) * perRow);
        return { name: t.name, datatype: t.datatype, shape: [1, ...t.shape.slice(1)], bytes: Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64') };
      }),
    ),
  );
}

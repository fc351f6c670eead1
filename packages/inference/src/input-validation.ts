import { InferqError } from '@inferq/core/errors';
import type { ResponseForm } from '@inferq/core/job-types';
import { elementCount, type QueuedTensor, type TensorDatatype, type WireTensor } from '@inferq/core/tensor';
import type { ModelManifest, TensorSpec } from './manifest.ts';
import { deferTensor, type BatchPart } from './tensor-codec.ts';

/** An input tensor as a client sends it: KServe V2, data flat (row-major) or nested. */
export interface RequestTensor {
  name: string;
  datatype: string;
  shape: number[];
  data: unknown[];
}

export type FeatureRow = Record<string, unknown>;

export interface ModelInputRequest {
  inputs?: RequestTensor[] | undefined;
  features?: FeatureRow | FeatureRow[] | undefined;
}

export interface ValidatedInput {
  inputs: WireTensor[];
  response: ResponseForm;
  rows: number;
}

const INTEGER_RANGES: Partial<Record<TensorDatatype, [number, number]>> = {
  UINT8: [0, 255],
  UINT16: [0, 65535],
  UINT32: [0, 4294967295],
  INT8: [-128, 127],
  INT16: [-32768, 32767],
  INT32: [-2147483648, 2147483647],
  // JSON numbers are doubles: beyond 2^53 an INT64 could not arrive intact, so it is refused.
  INT64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
};

/** The largest finite float32: a larger magnitude becomes Infinity when the tensor is built. */
const FP32_MAX = 3.4028234663852886e38;

/** Per column of a model's feature input: the declared bounds, as flat arrays for the per-value loop. */
interface ColumnBounds {
  names: readonly string[];
  min: Float64Array;
  max: Float64Array;
}

const boundsCache = new WeakMap<ModelManifest, ColumnBounds | null>();

/** The feature input's column bounds, or null when the model declares no ranges. Computed once per manifest. */
function columnBounds(manifest: ModelManifest): ColumnBounds | null {
  let bounds = boundsCache.get(manifest);
  if (bounds === undefined) {
    bounds = null;
    const mapping = manifest.features;
    if (mapping && Object.keys(mapping.ranges).length > 0) {
      const min = new Float64Array(mapping.names.length).fill(-Infinity);
      const max = new Float64Array(mapping.names.length).fill(Infinity);
      mapping.names.forEach((name, c) => {
        const range = mapping.ranges[name];
        if (range?.min !== undefined) min[c] = range.min;
        if (range?.max !== undefined) max[c] = range.max;
      });
      bounds = { names: mapping.names, min, max };
    }
    boundsCache.set(manifest, bounds);
  }
  return bounds;
}

function outOfRange(feature: string, value: number, min: number, max: number, where: Record<string, unknown>): InferqError {
  const range = { ...(min > -Infinity ? { min } : {}), ...(max < Infinity ? { max } : {}) };
  const bounds = [min > -Infinity ? `≥ ${min}` : '', max < Infinity ? `≤ ${max}` : ''].filter(Boolean).join(' and ');
  return new InferqError('INPUT_OUT_OF_RANGE', `feature ${feature} (${value}) is outside the model's range: it must be ${bounds}`, {
    details: { ...where, feature, value, range },
  });
}

function float32Overflow(what: string, value: number, where: Record<string, unknown>): InferqError {
  return new InferqError('INPUT_VALUE_INVALID', `${what} (${value}) is not finite as a float32: its magnitude must be at most ${FP32_MAX}`, {
    details: { ...where, value, range: { min: -FP32_MAX, max: FP32_MAX } },
  });
}

function invalidValue(input: string, index: number, value: unknown, why: string): InferqError {
  return new InferqError('INPUT_VALUE_INVALID', `input ${input}: element ${index} (${JSON.stringify(value) ?? String(value)}) ${why}`, {
    details: { input, index },
  });
}

/** Checks every element once and returns plain numbers (booleans become 0/1). */
function checkValues(name: string, datatype: TensorDatatype, data: unknown[]): number[] {
  const out = new Array<number>(data.length);
  const range = INTEGER_RANGES[datatype];
  for (let i = 0; i < data.length; i++) {
    let value = data[i];
    if (typeof value === 'boolean') value = value ? 1 : 0;
    if (typeof value !== 'number' || !Number.isFinite(value)) throw invalidValue(name, i, data[i], 'is not a finite number');
    if (datatype === 'BOOL' && value !== 0 && value !== 1) throw invalidValue(name, i, value, 'is not a boolean');
    if (datatype === 'FP32' && (value > FP32_MAX || value < -FP32_MAX)) throw float32Overflow(`input ${name}: element ${i}`, value, { input: name, index: i });
    if (range) {
      if (!Number.isInteger(value)) throw invalidValue(name, i, value, `is not an integer (${datatype})`);
      if (value < range[0] || value > range[1]) throw invalidValue(name, i, value, `is out of range for ${datatype}`);
    }
    out[i] = value;
  }
  return out;
}

function checkShape(spec: TensorSpec, shape: number[]): void {
  const mismatch = () =>
    new InferqError('INPUT_SHAPE_MISMATCH', `input ${spec.name}: shape [${shape.join(', ')}] does not match the model's [${spec.shape.join(', ')}]`, {
      details: { input: spec.name, expected: spec.shape, actual: shape },
    });
  if (shape.length !== spec.shape.length) throw mismatch();
  for (let i = 0; i < shape.length; i++) {
    const dim = shape[i] as number;
    const want = spec.shape[i] as number;
    if (!Number.isInteger(dim) || dim < 1 || (want !== -1 && dim !== want)) throw mismatch();
  }
}

interface TensorHeader {
  name: string;
  datatype: string;
  shape: number[];
}

/** The tensors in the manifest's input order, each checked for name, datatype and shape. */
function matchInputs<T extends TensorHeader>(manifest: ModelManifest, tensors: T[]): { spec: TensorSpec; tensor: T }[] {
  const byName = new Map<string, T>();
  for (const tensor of tensors) {
    if (byName.has(tensor.name)) throw new InferqError('INVALID_REQUEST', `input ${tensor.name} is given twice`, { details: { input: tensor.name } });
    byName.set(tensor.name, tensor);
  }
  for (const name of byName.keys()) {
    if (!manifest.inputs.some((spec) => spec.name === name)) {
      throw new InferqError('INPUT_UNKNOWN', `the model has no input ${name}; its inputs are ${manifest.inputs.map((s) => s.name).join(', ')}`, {
        details: { input: name, inputs: manifest.inputs.map((s) => s.name) },
      });
    }
  }
  return manifest.inputs.map((spec) => {
    const tensor = byName.get(spec.name);
    if (!tensor) throw new InferqError('INPUT_MISSING', `input ${spec.name} is missing`, { details: { input: spec.name } });
    if (tensor.datatype !== spec.datatype) {
      throw new InferqError('INPUT_DATATYPE_MISMATCH', `input ${spec.name}: datatype ${tensor.datatype}, the model takes ${spec.datatype}`, {
        details: { input: spec.name, expected: spec.datatype, actual: tensor.datatype },
      });
    }
    checkShape(spec, tensor.shape);
    return { spec, tensor };
  });
}

function fromTensors(manifest: ModelManifest, tensors: RequestTensor[]): WireTensor[] {
  return matchInputs(manifest, tensors).map(({ spec, tensor }) => {
    const flat = tensor.data.some(Array.isArray) ? (tensor.data.flat(Infinity) as unknown[]) : tensor.data;
    const expected = elementCount(tensor.shape);
    if (flat.length !== expected) {
      throw new InferqError('INPUT_SHAPE_MISMATCH', `input ${spec.name}: shape [${tensor.shape.join(', ')}] needs ${expected} elements, data has ${flat.length}`, {
        details: { input: spec.name, expected_elements: expected, actual_elements: flat.length },
      });
    }
    const data = checkValues(spec.name, spec.datatype, flat);
    if (spec.name === manifest.features?.input) checkColumns(manifest, spec.name, data);
    return { name: spec.name, datatype: spec.datatype, shape: tensor.shape, data };
  });
}

/** The feature ranges apply to the feature input however it arrives: a tensor cannot bypass them. */
function checkColumns(manifest: ModelManifest, input: string, data: number[]): void {
  const bounds = columnBounds(manifest);
  if (!bounds) return;
  const width = bounds.names.length;
  for (let i = 0; i < data.length; i++) {
    const c = i % width;
    const value = data[i] as number;
    const min = bounds.min[c] as number;
    const max = bounds.max[c] as number;
    if (value < min || value > max) throw outOfRange(bounds.names[c] as string, value, min, max, { input, index: i, row: Math.floor(i / width) });
  }
}

function fromFeatures(manifest: ModelManifest, rows: FeatureRow[]): WireTensor[] {
  const mapping = manifest.features;
  if (!mapping) {
    throw manifest.preprocess
      ? new InferqError('FEATURES_NOT_SUPPORTED', 'this model takes an image (a raw image/png, image/jpeg or image/webp body, or "image": {"data": "<base64>"}), not named features', {
          details: { takes: 'image' },
        })
      : new InferqError('FEATURES_NOT_SUPPORTED', 'this model takes tensors (inputs: [...]), not named features', { details: { takes: 'inputs' } });
  }
  const spec = manifest.inputs.find((i) => i.name === mapping.input) as TensorSpec;
  const names = mapping.names;
  const width = names.length;
  const data = new Array<number>(rows.length * width);
  const bounds = columnBounds(manifest);
  const fp32 = spec.datatype === 'FP32';
  // One pass per row without allocating: batch scoring runs this for every row of a file, and
  // the error lists are only built when a row is wrong.
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r] as FeatureRow;
    for (let c = 0; c < width; c++) if (!Object.hasOwn(row, names[c] as string)) throw missingFeatures(names, row, r);
    let keys = 0;
    for (const key in row) if (Object.hasOwn(row, key)) keys++;
    if (keys !== width) throw unknownFeatures(names, row, r);
    for (let c = 0; c < width; c++) {
      const name = names[c] as string;
      let value = row[name];
      if (typeof value === 'boolean') value = value ? 1 : 0;
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        throw new InferqError('INPUT_VALUE_INVALID', `feature ${name} (${JSON.stringify(row[name]) ?? String(row[name])}) is not a finite number`, {
          details: { row: r, feature: name },
        });
      }
      if (fp32 && (value > FP32_MAX || value < -FP32_MAX)) throw float32Overflow(`feature ${name}`, value, { row: r, feature: name });
      if (bounds && (value < (bounds.min[c] as number) || value > (bounds.max[c] as number))) {
        throw outOfRange(name, value, bounds.min[c] as number, bounds.max[c] as number, { row: r });
      }
      data[r * width + c] = value;
    }
  }
  // Every value is a finite number by now; integer types still need their range checked.
  const values = spec.datatype === 'FP32' || spec.datatype === 'FP64' ? data : checkValues(spec.name, spec.datatype, data);
  return [{ name: spec.name, datatype: spec.datatype, shape: [rows.length, width], data: values }];
}

function missingFeatures(names: readonly string[], row: FeatureRow, r: number): InferqError {
  const missing = names.filter((n) => !Object.hasOwn(row, n));
  return new InferqError('FEATURE_MISSING', `features missing: ${missing.join(', ')}`, { details: { row: r, missing } });
}

function unknownFeatures(names: readonly string[], row: FeatureRow, r: number): InferqError {
  const known = new Set(names);
  const unknown = Object.keys(row).filter((k) => !known.has(k));
  return new InferqError('FEATURE_UNKNOWN', `unknown features: ${unknown.join(', ')}; the model uses ${names.join(', ')}`, {
    details: { row: r, unknown, features: names },
  });
}

/**
 * Turns a request's input, in either form, into the tensors a worker runs, or throws the
 * InferqError that tells the client exactly what is wrong. Runs in the API before anything is
 * enqueued, so bad input never reaches a worker.
 */
export function validateModelInput(manifest: ModelManifest, request: ModelInputRequest, maxRows: number): ValidatedInput {
  const hasInputs = request.inputs !== undefined;
  const hasFeatures = request.features !== undefined;
  if (hasInputs === hasFeatures) {
    throw new InferqError('INVALID_REQUEST', 'give exactly one of inputs (V2 tensors), features (named values) or image');
  }
  let inputs: WireTensor[];
  let response: ResponseForm;
  if (request.features !== undefined) {
    const many = Array.isArray(request.features);
    const rows = many ? (request.features as FeatureRow[]) : [request.features as FeatureRow];
    if (rows.length === 0) throw new InferqError('INVALID_REQUEST', 'features is an empty list');
    if (rows.length > maxRows) throw tooManyRows(rows.length, maxRows);
    inputs = fromFeatures(manifest, rows);
    response = many ? 'predictions' : 'prediction';
  } else {
    inputs = fromTensors(manifest, request.inputs as RequestTensor[]);
    response = 'outputs';
  }
  const rows = inputs[0]?.shape[0] ?? 0;
  const ragged = inputs.find((t) => t.shape[0] !== rows);
  if (ragged) {
    throw new InferqError('INPUT_SHAPE_MISMATCH', `every input needs the same first (row) dimension; ${ragged.name} has ${ragged.shape[0]}, expected ${rows}`, {
      details: { input: ragged.name },
    });
  }
  if (rows > maxRows) throw tooManyRows(rows, maxRows);
  return { inputs, response, rows };
}

function tooManyRows(rows: number, maxRows: number): InferqError {
  return new InferqError('TOO_MANY_ROWS', `the job has ${rows} rows; at most ${maxRows} are allowed (INFERQ_MAX_ROWS_PER_JOB)`, {
    details: { rows, max_rows: maxRows },
  });
}

export interface QueuedInput {
  /** Per input, the tensor onnxruntime takes; packed bytes stay packed until the batch is built. */
  feeds: Record<string, BatchPart>;
  rows: number;
  /** Jobs whose tensors differ in shape beyond the first dimension cannot share a batch. */
  batchKey: string;
}

/**
 * The worker's check of a queued job's tensors against the version that will run it (a producer
 * other than our API may have written the job): names, datatypes, shapes and sizes, without
 * checking every value again, which the API did at submit (that pass costs more than the
 * inference of a small model): a bad value from another producer gets a NaN result or a model
 * error on that job alone, never a crash. Returns the feeds onnxruntime takes.
 */
export function unpackQueuedInputs(manifest: ModelManifest, inputs: QueuedTensor[], maxRows: number): QueuedInput {
  const matched = matchInputs(manifest, inputs);
  const rows = matched[0]?.tensor.shape[0] ?? 0;
  if (matched.some(({ tensor }) => tensor.shape[0] !== rows)) throw new InferqError('INPUT_SHAPE_MISMATCH', 'every input needs the same first (row) dimension');
  if (rows > maxRows) throw tooManyRows(rows, maxRows);
  const feeds: Record<string, BatchPart> = {};
  for (const { spec, tensor } of matched) {
    try {
      feeds[spec.name] = deferTensor(tensor);
    } catch (error) {
      throw new InferqError('INPUT_SHAPE_MISMATCH', (error as Error).message, { details: { input: spec.name } });
    }
  }
  return { feeds, rows, batchKey: matched.map(({ tensor }) => tensor.shape.slice(1).join('x')).join('|') };
}

import os from 'node:os';
import { elementCount, type PackedTensor, type QueuedTensor, type TensorDatatype, type WireTensor } from '@inferq/core/tensor';

export type TypedArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Int16Array
  | Int32Array
  | BigInt64Array
  | Uint8Array
  | Uint16Array
  | Uint32Array;

/** onnxruntime's tensor type names (`ort.Tensor.Type`) for the datatypes inferq carries. */
export type OrtType = 'float32' | 'float64' | 'int8' | 'int16' | 'int32' | 'int64' | 'uint8' | 'uint16' | 'uint32' | 'bool';

/** A tensor in the form that crosses to an inference thread: its buffer is transferred, not copied. */
export interface RawTensor {
  type: OrtType;
  dims: number[];
  data: TypedArray;
}

const ORT_TYPE: Record<TensorDatatype, OrtType> = {
  BOOL: 'bool',
  UINT8: 'uint8',
  UINT16: 'uint16',
  UINT32: 'uint32',
  INT8: 'int8',
  INT16: 'int16',
  INT32: 'int32',
  INT64: 'int64',
  FP32: 'float32',
  FP64: 'float64',
};

const V2_TYPE = Object.fromEntries(Object.entries(ORT_TYPE).map(([v2, ort]) => [ort, v2])) as Record<OrtType, TensorDatatype>;

export function allocate(type: OrtType, length: number): TypedArray {
  switch (type) {
    case 'float32': return new Float32Array(length);
    case 'float64': return new Float64Array(length);
    case 'int8': return new Int8Array(length);
    case 'int16': return new Int16Array(length);
    case 'int32': return new Int32Array(length);
    case 'int64': return new BigInt64Array(length);
    case 'uint8': case 'bool': return new Uint8Array(length);
    case 'uint16': return new Uint16Array(length);
    case 'uint32': return new Uint32Array(length);
  }
}

export function ortTypeOf(datatype: TensorDatatype): OrtType {
  return ORT_TYPE[datatype];
}

export function v2TypeOf(type: string): TensorDatatype {
  const v2 = V2_TYPE[type as OrtType];
  if (!v2) throw new Error(`onnxruntime output type ${type} has no V2 datatype inferq supports`);
  return v2;
}

export function fromWire(tensor: WireTensor): RawTensor {
  const type = ORT_TYPE[tensor.datatype];
  const length = elementCount(tensor.shape);
  if (tensor.data.length !== length) throw new Error(`tensor ${tensor.name}: ${tensor.data.length} elements for shape [${tensor.shape.join(',')}]`);
  const data = allocate(type, length);
  if (data instanceof BigInt64Array) {
    for (let i = 0; i < length; i++) data[i] = BigInt(tensor.data[i] as number);
  } else {
    data.set(tensor.data);
  }
  return { type, dims: tensor.shape, data };
}

// Packed bytes are little-endian, which typed arrays are on every platform Node supports but s390x.
const LITTLE_ENDIAN = os.endianness() === 'LE';

/** Packs a tensor for the queue: its values as they will be fed to onnxruntime, as raw bytes. */
export function packTensor(tensor: WireTensor): PackedTensor {
  assertLittleEndian();
  const { data } = fromWire(tensor);
  return { name: tensor.name, datatype: tensor.datatype, shape: tensor.shape, bytes: Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64') };
}

/**
 * A queued tensor whose packed bytes are not decoded yet: concatRows decodes them straight into
 * the batch's input buffer, so a job's tensor is never held in a buffer of its own on the way.
 */
export interface DeferredTensor {
  type: OrtType;
  dims: number[];
  /** The packed little-endian bytes, base64, as queued. */
  base64: string;
  byteLength: number;
}

/** One job's share of a batch input: decoded already (images, JSON values) or still packed. */
export type BatchPart = RawTensor | DeferredTensor;

/** The bytes of a packed tensor could not be decoded (not base64): that job's input is bad. */
export class TensorDecodeError extends Error {
  override name = 'TensorDecodeError';
}

function assertLittleEndian(): void {
  if (!LITTLE_ENDIAN) throw new Error('inferq packs tensors as little-endian bytes and cannot run on a big-endian machine');
}

/**
 * A queued tensor, checked against its shape (throws when its size does not match) but left
 * packed: its bytes are decoded once, where the batch needs them (concatRows, decodeInto).
 */
export function deferTensor(tensor: QueuedTensor): BatchPart {
  if (!('bytes' in tensor)) return fromWire(tensor);
  assertLittleEndian();
  const type = ORT_TYPE[tensor.datatype];
  const expected = elementCount(tensor.shape) * BYTES_PER_ELEMENT[type];
  // From the string's length and padding, without decoding it.
  const byteLength = Buffer.byteLength(tensor.bytes, 'base64');
  if (byteLength !== expected) {
    throw new Error(`tensor ${tensor.name}: ${byteLength} bytes for shape [${tensor.shape.join(',')}] of ${tensor.datatype} (${expected} expected)`);
  }
  return { type, dims: tensor.shape, base64: tensor.bytes, byteLength };
}

/** A queued tensor as onnxruntime takes it, packed or not, in a buffer of its own; throws when its size does not match its shape. */
export function unpackTensor(tensor: QueuedTensor): RawTensor {
  return materialize(deferTensor(tensor));
}

/** The part as a tensor: a deferred one decoded into a buffer of its own (transferable, aligned). */
export function materialize(part: BatchPart): RawTensor {
  if (!('base64' in part)) return part;
  const data = allocate(part.type, part.byteLength / BYTES_PER_ELEMENT[part.type]);
  decodeInto(part, data, 0);
  return { type: part.type, dims: part.dims, data };
}

/** Decodes a deferred tensor's bytes into `out`, starting at element `offset`. */
function decodeInto(part: DeferredTensor, out: TypedArray, offset: number): void {
  const target = Buffer.from(out.buffer, out.byteOffset + offset * out.BYTES_PER_ELEMENT, part.byteLength);
  // Buffer#write decodes base64 in place: no intermediate buffer. A short count means bytes that are not base64.
  const written = target.write(part.base64, 'base64');
  if (written !== part.byteLength) throw new TensorDecodeError(`tensor bytes are not valid base64 (${written} of ${part.byteLength} bytes decoded)`);
}

const BYTES_PER_ELEMENT: Record<OrtType, number> = {
  float32: 4,
  float64: 8,
  int8: 1,
  int16: 2,
  int32: 4,
  int64: 8,
  uint8: 1,
  uint16: 2,
  uint32: 4,
  bool: 1,
};

function rowsOf(part: BatchPart): number {
  return part.dims[0] ?? 0;
}

export function toWire(name: string, tensor: RawTensor): WireTensor {
  const { data } = tensor;
  const values = data instanceof BigInt64Array ? Array.from(data, Number) : Array.from(data as ArrayLike<number>);
  return { name, datatype: v2TypeOf(tensor.type), shape: tensor.dims, data: values };
}

/**
 * Joins tensors along the first (row) dimension: the batch one `session.run` takes. Packed parts
 * are decoded straight into the batch's buffer. Parts whose other dimensions differ (images of
 * different widths) are padded with `padValue` up to the largest size along each dimension, at
 * the end of that dimension. A single decoded part is returned as it is (no copy).
 */
export function concatRows(parts: readonly BatchPart[], padValue = 0): RawTensor {
  const first = parts[0];
  if (!first) throw new Error('concatRows needs at least one tensor');
  if (parts.length === 1) return materialize(first);
  const inner = first.dims.slice(1).map((_, axis) => Math.max(...parts.map((p) => p.dims[axis + 1] ?? 0)));
  const rows = parts.reduce((n, p) => n + rowsOf(p), 0);
  const rowSize = inner.reduce((a, b) => a * b, 1);
  const data = allocate(first.type, rows * rowSize);
  const ragged = parts.some((p) => p.dims.some((d, axis) => axis > 0 && d !== inner[axis - 1]));
  if (!ragged) {
    let offset = 0;
    for (const part of parts) {
      if ('base64' in part) decodeInto(part, data, offset);
      else (data as Float32Array).set(part.data as Float32Array, offset);
      offset += rowsOf(part) * rowSize;
    }
    return { type: first.type, dims: [rows, ...inner], data };
  }
  if (padValue !== 0) (data as Float32Array).fill(padValue);
  let rowOffset = 0;
  for (const part of parts) {
    copyPadded(materialize(part), data, inner, rowOffset * rowSize);
    rowOffset += rowsOf(part);
  }
  return { type: first.type, dims: [rows, ...inner], data };
}

/** Copies `part` into a larger row-major tensor of inner dims `inner`, one contiguous last-axis run at a time. */
function copyPadded(part: RawTensor, out: TypedArray, inner: number[], outOffset: number): void {
  const dims = part.dims;
  const last = dims[dims.length - 1] ?? 1;
  const outer = dims.slice(0, -1);
  // Strides of the padded output, batch axis first: axis k steps over the product of inner[k..].
  const outStrides = outer.map((_, axis) => inner.slice(axis).reduce((a, b) => a * b, 1));
  const runs = outer.reduce((a, b) => a * b, 1);
  const index = new Array<number>(outer.length).fill(0);
  for (let run = 0; run < runs; run++) {
    let target = outOffset;
    for (let axis = 0; axis < outer.length; axis++) target += (index[axis] as number) * (outStrides[axis] as number);
    (out as Float32Array).set((part.data as Float32Array).subarray(run * last, (run + 1) * last), target);
    for (let axis = outer.length - 1; axis >= 0; axis--) {
      index[axis] = (index[axis] as number) + 1;
      if ((index[axis] as number) < (outer[axis] as number)) break;
      index[axis] = 0;
    }
  }
}

/**
 * The inverse of concatRows: one output tensor cut back into each job's rows, as views of the
 * output's buffer (no copy): results are only read, then encoded for Redis.
 */
export function splitRows(tensor: RawTensor, rowCounts: readonly number[]): RawTensor[] {
  const totalRows = tensor.dims[0] ?? 0;
  const perRow = totalRows === 0 ? 0 : tensor.data.length / totalRows;
  const out: RawTensor[] = [];
  let row = 0;
  for (const count of rowCounts) {
    out.push({ type: tensor.type, dims: [count, ...tensor.dims.slice(1)], data: tensor.data.subarray(row * perRow, (row + count) * perRow) });
    row += count;
  }
  return out;
}

/** KServe Open Inference Protocol (V2) tensor datatypes that inferq carries. */
export const TENSOR_DATATYPES = ['BOOL', 'UINT8', 'UINT16', 'UINT32', 'INT8', 'INT16', 'INT32', 'INT64', 'FP32', 'FP64'] as const;
export type TensorDatatype = (typeof TENSOR_DATATYPES)[number];

/** A tensor as it travels in JSON: KServe V2 shape, datatype and row-major flat data. */
export interface WireTensor {
  name: string;
  datatype: TensorDatatype;
  shape: number[];
  data: number[];
}

/**
 * A tensor as it is queued: its elements' raw little-endian bytes, base64. About a third the size
 * of the same values as JSON numbers (a float32 is 5.3 characters against up to 20), encoded
 * and decoded without formatting or parsing a number.
 */
export interface PackedTensor {
  name: string;
  datatype: TensorDatatype;
  shape: number[];
  bytes: string;
}

/** A tensor in a queue payload: packed, or JSON numbers as queued by producers that do not pack. */
export type QueuedTensor = PackedTensor | WireTensor;

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

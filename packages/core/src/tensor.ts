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

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

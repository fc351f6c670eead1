/**
 * Just enough of an ONNX graph builder to write the demo models without Python.
 * Everything goes through onnx-proto's generated protobuf encoders, so the bytes
 * are exactly what onnxruntime parses.
 */
import onnxProto from 'onnx-proto';
import type { onnx as Onnx } from 'onnx-proto';

// onnx-proto is CommonJS whose exports Node cannot see statically; the default import is the reliable way in.
const { onnx } = onnxProto;

export type NodeProto = Onnx.INodeProto;
export type TensorProto = Onnx.ITensorProto;
export type ValueInfoProto = Onnx.IValueInfoProto;

// Opset 17 / IR 8 is what onnxruntime 1.14+ fully supports and what ONNX 1.12+ tooling writes by default.
export const OPSET_VERSION = 17;
export const IR_VERSION = 8;

export const FLOAT = onnx.TensorProto.DataType.FLOAT;
export const INT64 = onnx.TensorProto.DataType.INT64;
export type ElemType = typeof FLOAT | typeof INT64;

/** A dimension is either fixed (number) or symbolic (string, e.g. the batch dim "N"). */
export type Dim = number | string;

/** FP32 initializer stored as raw_data, which ONNX defines as little-endian regardless of the host. */
export function floatTensor(name: string, dims: readonly number[], values: ArrayLike<number>): TensorProto {
  const count = dims.reduce((a, b) => a * b, 1);
  if (count !== values.length) {
    throw new Error(`initializer ${name}: dims [${dims.join(', ')}] need ${count} values, got ${values.length}`);
  }
  const raw = new Uint8Array(count * 4);
  const view = new DataView(raw.buffer);
  Float32Array.from(values).forEach((v, i) => {
    view.setFloat32(i * 4, v, true);
  });
  return { name, dims: [...dims], dataType: FLOAT, rawData: raw };
}

export function tensorInfo(name: string, elemType: ElemType, shape: readonly Dim[], docString?: string): ValueInfoProto {
  return {
    name,
    ...(docString === undefined ? {} : { docString }),
    type: {
      tensorType: {
        elemType,
        shape: { dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

export function node(
  opType: string,
  inputs: readonly string[],
  outputs: readonly string[],
  intAttributes: Readonly<Record<string, number>> = {},
): NodeProto {
  return {
    // Named after the first output: unique in our graphs and readable in Netron.
    name: `${opType}_${outputs[0] ?? 'out'}`,
    opType,
    input: [...inputs],
    output: [...outputs],
    attribute: Object.entries(intAttributes).map(([name, i]) => ({
      name,
      type: onnx.AttributeProto.AttributeType.INT,
      i,
    })),
  };
}

export interface GraphSpec {
  name: string;
  docString: string;
  nodes: NodeProto[];
  initializers: TensorProto[];
  inputs: ValueInfoProto[];
  outputs: ValueInfoProto[];
}

/** Serialized ModelProto. No timestamps or host details go in, so equal specs give equal bytes. */
export function encodeModel(spec: GraphSpec): Uint8Array {
  const model: Onnx.IModelProto = {
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: OPSET_VERSION }],
    producerName: 'inferq/scripts/build-demo-models.ts',
    producerVersion: '1',
    docString: spec.docString,
    graph: {
      name: spec.name,
      node: spec.nodes,
      initializer: spec.initializers,
      input: spec.inputs,
      output: spec.outputs,
    },
  };
  const err = onnx.ModelProto.verify(model);
  if (err) throw new Error(`ModelProto for ${spec.name} is malformed: ${err}`);
  return onnx.ModelProto.encode(model).finish();
}

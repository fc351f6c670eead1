/**
 * wide-mlp: a randomly initialised 64 -> 1024 -> 1024 -> 1024 -> 16 MLP. Its
 * outputs mean nothing; it exists because one row costs ~2.2M multiply-adds, enough for
 * batching many rows into one session.run to visibly beat running them one by one.
 */
import * as ort from 'onnxruntime-node';
import { FLOAT, encodeModel, floatTensor, node, tensorInfo, type NodeProto, type TensorProto } from './onnx-builder.ts';
import { mulberry32, normal } from './prng.ts';
import { expectDims, fail, float32Data, type SmokeCheck } from './smoke-check.ts';
import { writeModel, type WrittenModel } from './write-model.ts';

const LAYERS = [64, 1024, 1024, 1024, 16] as const;
const SEED = 0x5eed_0064;

export interface BuiltWideMlp {
  written: WrittenModel;
  check: SmokeCheck;
}

export function buildWideMlp(outDir: string): BuiltWideMlp {
  const rng = mulberry32(SEED);
  const nodes: NodeProto[] = [];
  const initializers: TensorProto[] = [];
  let current = 'x';
  for (let layer = 0; layer + 1 < LAYERS.length; layer++) {
    const fanIn = LAYERS[layer]!;
    const fanOut = LAYERS[layer + 1]!;
    // He init keeps activations from vanishing or exploding through the ReLU stack, so outputs stay finite and non-trivial.
    const scale = Math.sqrt(2 / fanIn);
    const w = Float32Array.from({ length: fanIn * fanOut }, () => normal(rng) * scale);
    initializers.push(floatTensor(`w${layer + 1}`, [fanIn, fanOut], w), floatTensor(`b${layer + 1}`, [fanOut], new Float32Array(fanOut)));
    const last = layer + 2 === LAYERS.length;
    const gemmOut = last ? 'y' : `h${layer + 1}_pre`;
    nodes.push(node('Gemm', [current, `w${layer + 1}`, `b${layer + 1}`], [gemmOut]));
    if (!last) {
      nodes.push(node('Relu', [gemmOut], [`h${layer + 1}`]));
      current = `h${layer + 1}`;
    }
  }

  const description =
    `Random weights (He init, seed 0x${SEED.toString(16)}), no training: outputs are meaningless. ` +
    `A compute-heavy MLP ${LAYERS.join(' -> ')} (ReLU between layers, ~2.2M multiply-adds per row) for dynamic-batching throughput demos.`;
  const bytes = encodeModel({
    name: 'wide_mlp',
    docString: description,
    nodes,
    initializers,
    inputs: [tensorInfo('x', FLOAT, ['N', LAYERS[0]], 'Any 64 floats per row')],
    outputs: [tensorInfo('y', FLOAT, ['N', LAYERS[LAYERS.length - 1]!], '16 floats per row, no meaning')],
  });
  const relDir = 'models/wide-mlp/1';
  const written = writeModel(outDir, relDir, bytes, {
    description,
    task: 'tensor',
    inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 64], description: 'Any 64 float32 values per row.' }],
    outputs: [{ name: 'y', datatype: 'FP32', shape: [-1, 16], description: '16 float32 values per row; meaningless (random weights).' }],
    max_batch_size: 64,
    max_wait_ms: 10,
  });

  const check: SmokeCheck = async (session) => {
    const inputRng = mulberry32(SEED + 1);
    const x = Float32Array.from({ length: 3 * 64 }, () => normal(inputRng));
    const out = await session.run({ x: new ort.Tensor('float32', x, [3, 64]) });
    const y = float32Data(relDir, expectDims(relDir, out['y'], [3, 16]));
    if (!y.every(Number.isFinite) || y.every((v) => v === 0)) fail(relDir, 'outputs are non-finite or all zero');
    return `y[0, 0..3] = [${Array.from(y.subarray(0, 4), (v) => v.toFixed(4)).join(', ')}]`;
  };
  return { written, check };
}

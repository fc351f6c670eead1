/**
 * Test fixture canary: three versions of one tiny model for the routing tests. Each maps
 * `ids` [N, 1] (INT64) to `vectors` [N, 1, 4] with table[i][j] = 10*i + j, so every version
 * gives the same answer where it gives one:
 *
 *   1  stable: a 16-row table (ids 0..15 work)
 *   2  faulty: an 8-row table, so ids 8..15 make session.run throw (a canary that fails some inputs)
 *   3  slow:   the 16-row table plus a side branch of chained 256x256 MatMuls over 1024 rows per
 *              input row, multiplied by zero and added: same outputs, tens of milliseconds per run
 */
import * as ort from 'onnxruntime-node';
import { FLOAT, INT64, encodeModel, floatTensor, node, tensorInfo, type NodeProto, type TensorProto } from './onnx-builder.ts';
import { mulberry32, normal } from './prng.ts';
import { expectDims, fail, float32Data, type SmokeCheck } from './smoke-check.ts';
import { writeModel, type WrittenModel } from './write-model.ts';

const COLS = 4;
/** Slow branch: each input row becomes SLOW_ROWS rows of SLOW_WIDTH, multiplied SLOW_LAYERS times. */
const SLOW_ROWS = 1024;
const SLOW_WIDTH = 256;
const SLOW_LAYERS = 64;

export interface BuiltCanary {
  written: WrittenModel;
  check: SmokeCheck;
  quietRunErrors: true;
}

function int64Tensor(name: string, values: number[]): TensorProto {
  return { name, dims: [values.length], dataType: INT64, int64Data: values };
}

function table(rows: number): TensorProto {
  return floatTensor('table', [rows, COLS], Array.from({ length: rows * COLS }, (_, k) => 10 * Math.floor(k / COLS) + (k % COLS)));
}

function slowBranch(): { nodes: NodeProto[]; initializers: TensorProto[] } {
  const rng = mulberry32(0xca7a_0003);
  const scale = 1 / Math.sqrt(SLOW_WIDTH);
  const nodes: NodeProto[] = [
    node('Cast', ['ids'], ['ids_f'], { to: FLOAT }),
    node('Expand', ['ids_f', 'expand_shape'], ['wide']),
    node('Reshape', ['wide', 'rows_shape'], ['h0']),
  ];
  for (let k = 1; k <= SLOW_LAYERS; k++) {
    nodes.push(node('MatMul', [`h${k - 1}`, 'w'], [`m${k}`]), node('Tanh', [`m${k}`], [`h${k}`]));
  }
  nodes.push(node('ReduceSum', [`h${SLOW_LAYERS}`], ['total'], { keepdims: 0 }), node('Mul', ['total', 'zero'], ['nothing']), node('Add', ['looked_up', 'nothing'], ['vectors']));
  return {
    nodes,
    initializers: [
      int64Tensor('expand_shape', [1, SLOW_ROWS * SLOW_WIDTH]),
      int64Tensor('rows_shape', [-1, SLOW_WIDTH]),
      floatTensor('w', [SLOW_WIDTH, SLOW_WIDTH], Float32Array.from({ length: SLOW_WIDTH * SLOW_WIDTH }, () => normal(rng) * scale)),
      floatTensor('zero', [], [0]),
    ],
  };
}

function buildVersion(outDir: string, version: 1 | 2 | 3): BuiltCanary {
  const rows = version === 2 ? 8 : 16;
  const slow = version === 3 ? slowBranch() : { nodes: [], initializers: [] };
  const description = [
    `Test fixture for routing: vectors = table[ids], table[i][j] = 10*i + j, ${rows} rows.`,
    version === 2 ? 'Faulty canary: ids 8..15 make session.run throw.' : '',
    version === 3 ? `Slow canary: ${SLOW_LAYERS} chained ${SLOW_WIDTH}x${SLOW_WIDTH} MatMuls over ${SLOW_ROWS} rows per input row, multiplied by zero.` : '',
  ].filter(Boolean).join(' ');
  const bytes = encodeModel({
    name: `canary_v${version}`,
    docString: description,
    nodes: [node('Gather', ['table', 'ids'], [version === 3 ? 'looked_up' : 'vectors'], { axis: 0 }), ...slow.nodes],
    initializers: [table(rows), ...slow.initializers],
    inputs: [tensorInfo('ids', INT64, ['N', 1], 'Row ids')],
    outputs: [tensorInfo('vectors', FLOAT, ['N', 1, COLS], 'The looked-up table rows')],
  });
  const relDir = `test/fixtures/models/canary/${version}`;
  const written = writeModel(outDir, relDir, bytes, {
    description,
    task: 'tensor',
    inputs: [{ name: 'ids', datatype: 'INT64', shape: [-1, 1], description: 'One id per row, 0..15.' }],
    outputs: [{ name: 'vectors', datatype: 'FP32', shape: [-1, 1, COLS], description: 'table[id]: [10*id, 10*id+1, 10*id+2, 10*id+3].' }],
    // Small batches: a batch of the slow version costs tens of milliseconds per row.
    max_batch_size: 8,
    max_wait_ms: 5,
  });
  const check: SmokeCheck = async (session) => {
    const ids = (values: bigint[]) => new ort.Tensor('int64', BigInt64Array.from(values), [values.length, 1]);
    const started = performance.now();
    const out = await session.run({ ids: ids([0n, 3n, 7n]) });
    const ms = performance.now() - started;
    const v = float32Data(relDir, expectDims(relDir, out['vectors'], [3, 1, COLS]));
    const want = [0, 1, 2, 3, 30, 31, 32, 33, 70, 71, 72, 73];
    if (want.some((w, i) => v[i] !== w)) fail(relDir, `expected [${want.join(', ')}], got [${Array.from(v).join(', ')}]`);
    let error: unknown;
    try {
      await session.run({ ids: ids([12n]) });
    } catch (e) {
      error = e;
    }
    if ((error !== undefined) !== (version === 2)) fail(relDir, version === 2 ? 'id 12 ran without throwing' : `id 12 threw: ${String(error)}`);
    return `ids [0, 3, 7] ok in ${ms.toFixed(1)} ms; id 12 ${error ? 'threw, as it should' : 'ok'}`;
  };
  return { written, check, quietRunErrors: true };
}

export function buildCanary(outDir: string): BuiltCanary[] {
  return ([1, 2, 3] as const).map((v) => buildVersion(outDir, v));
}

/**
 * Test fixture lookup: Gather from a 16x4 table. onnxruntime's Gather rejects
 * indices outside the table at run time, which gives tests a deterministic way
 * to make one bad row poison a batched session.run.
 */
import * as ort from 'onnxruntime-node';
import { FLOAT, INT64, encodeModel, floatTensor, node, tensorInfo } from './onnx-builder.ts';
import { expectDims, fail, float32Data, type SmokeCheck } from './smoke-check.ts';
import { writeModel, type WrittenModel } from './write-model.ts';

const ROWS = 16;
const COLS = 4;

export interface BuiltLookup {
  written: WrittenModel;
  check: SmokeCheck;
  /** The check runs id 99 on purpose; onnxruntime's error log for it is noise. */
  quietRunErrors: true;
}

export function buildLookup(outDir: string): BuiltLookup {
  // table[i][j] = 10 * i + j: exact in float32 and easy for tests to assert on without reading the file.
  const table = Array.from({ length: ROWS * COLS }, (_, k) => 10 * Math.floor(k / COLS) + (k % COLS));
  const description =
    `Test fixture: vectors = table[ids] with a fixed ${ROWS}x${COLS} table where table[i][j] = 10*i + j. ` +
    `Ids outside -${ROWS}..${ROWS - 1} (ONNX Gather allows negative indices) make session.run throw.`;
  const bytes = encodeModel({
    name: 'lookup',
    docString: description,
    nodes: [node('Gather', ['table', 'ids'], ['vectors'], { axis: 0 })],
    initializers: [floatTensor('table', [ROWS, COLS], table)],
    inputs: [tensorInfo('ids', INT64, ['N', 1], `Row ids into the ${ROWS}x${COLS} table`)],
    outputs: [tensorInfo('vectors', FLOAT, ['N', 1, COLS], 'The looked-up table rows')],
  });
  const relDir = 'test/fixtures/models/lookup/1';
  const written = writeModel(outDir, relDir, bytes, {
    description,
    task: 'tensor',
    inputs: [{ name: 'ids', datatype: 'INT64', shape: [-1, 1], description: `One id per row, valid range 0..${ROWS - 1}.` }],
    outputs: [
      { name: 'vectors', datatype: 'FP32', shape: [-1, 1, COLS], description: `table[id]: [10*id, 10*id+1, 10*id+2, 10*id+3].` },
    ],
    max_batch_size: 32,
    max_wait_ms: 20,
  });

  const check: SmokeCheck = async (session) => {
    const ids = (values: bigint[]) => new ort.Tensor('int64', BigInt64Array.from(values), [values.length, 1]);
    const out = await session.run({ ids: ids([0n, 3n, 15n]) });
    const v = float32Data(relDir, expectDims(relDir, out['vectors'], [3, 1, COLS]));
    const want = [0, 1, 2, 3, 30, 31, 32, 33, 150, 151, 152, 153];
    if (want.some((w, i) => v[i] !== w)) fail(relDir, `expected [${want.join(', ')}], got [${Array.from(v).join(', ')}]`);
    let error: unknown;
    try {
      await session.run({ ids: ids([1n, 99n, 2n]) });
    } catch (e) {
      error = e;
    }
    if (error === undefined) fail(relDir, 'a batch containing id 99 ran without throwing');
    const message = error instanceof Error ? error.message : String(error);
    return `ids [0, 3, 15] ok; ids [1, 99, 2] threw: ${message.split('\n')[0]}`;
  };
  return { written, check, quietRunErrors: true };
}

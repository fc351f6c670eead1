/**
 * Test fixture two-heads: one input, two outputs (`copy` = x, `negated` = -x), so tests can ask
 * for one output by name and check that only it comes back.
 */
import * as ort from 'onnxruntime-node';
import { FLOAT, encodeModel, node, tensorInfo } from './onnx-builder.ts';
import { expectDims, fail, float32Data, type SmokeCheck } from './smoke-check.ts';
import { writeModel, type WrittenModel } from './write-model.ts';

const COLS = 2;

export function buildTwoHeads(outDir: string): { written: WrittenModel; check: SmokeCheck } {
  const description = 'Test fixture: two outputs of one input, copy = x and negated = -x.';
  const bytes = encodeModel({
    name: 'two-heads',
    docString: description,
    nodes: [node('Identity', ['x'], ['copy']), node('Neg', ['x'], ['negated'])],
    initializers: [],
    inputs: [tensorInfo('x', FLOAT, ['N', COLS], 'Any values')],
    outputs: [tensorInfo('copy', FLOAT, ['N', COLS], 'x as given'), tensorInfo('negated', FLOAT, ['N', COLS], '-x')],
  });
  const relDir = 'test/fixtures/models/two-heads/1';
  const written = writeModel(outDir, relDir, bytes, {
    description,
    task: 'tensor',
    inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, COLS] }],
    outputs: [
      { name: 'copy', datatype: 'FP32', shape: [-1, COLS] },
      { name: 'negated', datatype: 'FP32', shape: [-1, COLS] },
    ],
    max_batch_size: 32,
    max_wait_ms: 5,
  });
  const check: SmokeCheck = async (session) => {
    const out = await session.run({ x: new ort.Tensor('float32', Float32Array.from([1, -2, 3.5, 0]), [2, COLS]) });
    const copy = float32Data(relDir, expectDims(relDir, out['copy'], [2, COLS]));
    const negated = float32Data(relDir, expectDims(relDir, out['negated'], [2, COLS]));
    if (copy.join() !== '1,-2,3.5,0' || negated.join() !== '-1,2,-3.5,0') fail(relDir, `got copy [${copy.join(', ')}], negated [${negated.join(', ')}]`);
    return 'copy and negated ok';
  };
  return { written, check };
}

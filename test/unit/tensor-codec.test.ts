import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { concatRows, fromWire, splitRows, toWire, type TypedArray } from '../../packages/inference/src/tensor-codec.ts';

const values = (data: TypedArray | undefined): number[] => Array.from(data ?? [], Number);

describe('tensor codec', () => {
  test('wire → typed arrays → wire keeps values, shape and datatype (INT64 via BigInt)', () => {
    const wire = { name: 'ids', datatype: 'INT64' as const, shape: [2, 2], data: [1, -2, 9007199254740991, 0] };
    const raw = fromWire(wire);
    assert.ok(raw.data instanceof BigInt64Array);
    assert.deepEqual(toWire('ids', raw), wire);
  });

  test('concatRows then splitRows returns each part unchanged', () => {
    const a = fromWire({ name: 'x', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] });
    const b = fromWire({ name: 'x', datatype: 'FP32', shape: [2, 3], data: [4, 5, 6, 7, 8, 9] });
    const joined = concatRows([a, b]);
    assert.deepEqual(joined.dims, [3, 3]);
    const [a2, b2] = splitRows(joined, [1, 2]);
    assert.deepEqual(values(a2?.data), [1, 2, 3]);
    assert.deepEqual(b2?.dims, [2, 3]);
    assert.deepEqual(values(b2?.data), [4, 5, 6, 7, 8, 9]);
  });

  test('concatRows pads narrower parts with the pad value, keeping every value in place', () => {
    // Two "images" [1, 2, 1, W] of widths 2 and 3: channel-major, padded on the right.
    const a = fromWire({ name: 'x', datatype: 'FP32', shape: [1, 2, 1, 2], data: [1, 2, 3, 4] });
    const b = fromWire({ name: 'x', datatype: 'FP32', shape: [1, 2, 1, 3], data: [5, 6, 7, 8, 9, 10] });
    const joined = concatRows([a, b], -1);
    assert.deepEqual(joined.dims, [2, 2, 1, 3]);
    assert.deepEqual(values(joined.data), [1, 2, -1, 3, 4, -1, 5, 6, 7, 8, 9, 10]);
  });

  test('fromWire refuses data that does not fill the shape', () => {
    assert.throws(() => fromWire({ name: 'x', datatype: 'FP32', shape: [2, 2], data: [1, 2, 3] }), /3 elements for shape \[2,2\]/);
  });
});

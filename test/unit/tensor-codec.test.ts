import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { concatRows, deferTensor, fromWire, materialize, packTensor, splitRows, TensorDecodeError, toWire, unpackTensor, type TypedArray } from '../../packages/inference/src/tensor-codec.ts';

const values = (data: TypedArray | undefined): number[] => Array.from(data ?? [], Number);

describe('tensor codec', () => {
  test('wire → typed arrays → wire keeps values, shape and datatype (INT64 via BigInt)', () => {
    const wire = { name: 'ids', datatype: 'INT64' as const, shape: [2, 2], data: [1, -2, 9007199254740991, 0] };
    const raw = fromWire(wire);
    assert.ok(raw.data instanceof BigInt64Array);
    assert.deepEqual(toWire('ids', raw), wire);
  });

  test('packed tensors carry the values onnxruntime takes, in fewer bytes than JSON numbers', () => {
    const cases = [
      { name: 'x', datatype: 'FP32' as const, shape: [2, 3], data: [0.1, -2.5, 3e38, 0, 1 / 3, -1e-7] },
      { name: 'x', datatype: 'FP64' as const, shape: [1, 2], data: [0.1, Number.MAX_VALUE] },
      { name: 'ids', datatype: 'INT64' as const, shape: [3], data: [9007199254740991, -9007199254740991, 7] },
      { name: 'b', datatype: 'BOOL' as const, shape: [1, 3], data: [1, 0, 1] },
      { name: 'p', datatype: 'UINT8' as const, shape: [1, 2], data: [0, 255] },
      { name: 'i', datatype: 'INT16' as const, shape: [2], data: [-32768, 32767] },
    ];
    for (const wire of cases) {
      const packed = packTensor(wire);
      assert.deepEqual([packed.name, packed.datatype, packed.shape], [wire.name, wire.datatype, wire.shape]);
      const unpacked = unpackTensor(JSON.parse(JSON.stringify(packed)));
      const direct = fromWire(wire);
      assert.equal(unpacked.type, direct.type);
      assert.deepEqual(unpacked.dims, wire.shape);
      assert.deepEqual(values(unpacked.data), values(direct.data), `${wire.datatype} round trip`);
      assert.equal(unpacked.data.byteOffset, 0, 'a buffer of its own, transferable to an inference thread');
      assert.equal(unpacked.data.byteLength, unpacked.data.buffer.byteLength);
    }
    const row = { name: 'x', datatype: 'FP32' as const, shape: [1, 64], data: Array.from({ length: 64 }, (_, i) => Math.fround(Math.sin(i) * 1000)) };
    assert.ok(JSON.stringify(packTensor(row)).length < JSON.stringify(row).length / 2);
  });

  test('unpacking takes JSON numbers too, and refuses bytes that do not fit the shape', () => {
    assert.deepEqual(values(unpackTensor({ name: 'x', datatype: 'FP32', shape: [1, 2], data: [1.5, 2] }).data), [1.5, 2]);
    assert.throws(() => unpackTensor({ name: 'x', datatype: 'FP32', shape: [1, 2], bytes: Buffer.alloc(7).toString('base64') }), /7 bytes for shape \[1,2\] of FP32 \(8 expected\)/);
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

  test('packed parts are decoded straight into the batch, beside decoded ones, in row order', () => {
    const first = deferTensor(packTensor({ name: 'ids', datatype: 'INT64', shape: [2, 2], data: [1, -2, 9007199254740991, 3] }));
    const second = fromWire({ name: 'ids', datatype: 'INT64', shape: [1, 2], data: [4, 5] });
    const third = deferTensor(JSON.parse(JSON.stringify(packTensor({ name: 'ids', datatype: 'INT64', shape: [1, 2], data: [6, -7] }))));
    assert.ok('base64' in first, 'a packed tensor stays packed until the batch is built');
    const joined = concatRows([first, second, third]);
    assert.ok(joined.data instanceof BigInt64Array);
    assert.deepEqual(joined.dims, [4, 2]);
    assert.deepEqual(values(joined.data), [1, -2, 9007199254740991, 3, 4, 5, 6, -7]);
    assert.equal(joined.data.byteOffset, 0, 'the batch owns its whole buffer, so it can be transferred');
    assert.equal(joined.data.buffer.byteLength, joined.data.byteLength);
  });

  test('a lone packed part gets a buffer of its own; padded batches take packed parts too', () => {
    const lone = concatRows([deferTensor(packTensor({ name: 'x', datatype: 'FP32', shape: [1, 2], data: [0.5, -1] }))]);
    assert.deepEqual(values(lone.data), [0.5, -1]);
    assert.equal(lone.data.buffer.byteLength, 8);
    const narrow = deferTensor(packTensor({ name: 'x', datatype: 'FP32', shape: [1, 1, 1, 2], data: [1, 2] }));
    const wide = fromWire({ name: 'x', datatype: 'FP32', shape: [1, 1, 1, 3], data: [3, 4, 5] });
    assert.deepEqual(values(concatRows([narrow, wide], 9).data), [1, 2, 9, 3, 4, 5]);
  });

  test('a packed tensor is checked against its shape before it is decoded; bytes that are not base64 fail at decoding', () => {
    assert.throws(() => deferTensor({ name: 'x', datatype: 'FP32', shape: [1, 2], bytes: Buffer.alloc(12).toString('base64') }), /12 bytes for shape \[1,2\] of FP32 \(8 expected\)/);
    // 12 characters announce 9 bytes (shape [1, 9] of UINT8) but '*' is not base64.
    const bad = deferTensor({ name: 'p', datatype: 'UINT8', shape: [1, 9], bytes: 'AAAA*AAAAAAA' });
    assert.throws(() => materialize(bad), TensorDecodeError);
    const good = deferTensor(packTensor({ name: 'p', datatype: 'UINT8', shape: [1, 9], data: [1, 2, 3, 4, 5, 6, 7, 8, 9] }));
    assert.throws(() => concatRows([good, bad]), TensorDecodeError);
  });

  test('splitRows hands back views of the output, not copies', () => {
    const output = fromWire({ name: 'y', datatype: 'FP32', shape: [3, 2], data: [1, 2, 3, 4, 5, 6] });
    const [a, b] = splitRows(output, [2, 1]);
    assert.equal(a?.data.buffer, output.data.buffer);
    assert.equal(b?.data.buffer, output.data.buffer);
    assert.deepEqual(values(b?.data), [5, 6]);
    assert.deepEqual(b?.dims, [1, 2]);
  });

  test('fromWire refuses data that does not fill the shape', () => {
    assert.throws(() => fromWire({ name: 'x', datatype: 'FP32', shape: [2, 2], data: [1, 2, 3] }), /3 elements for shape \[2,2\]/);
  });
});

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { InferqError } from '../../packages/core/src/errors.ts';
import { manifestSchema, type ModelManifest } from '../../packages/inference/src/manifest.ts';
import { validateModelInput } from '../../packages/inference/src/input-validation.ts';
import { ResultBuilder } from '../../packages/inference/src/postprocess.ts';
import { SAFE_TRANSACTION } from '../support/http.ts';
import { REPO_ROOT } from '../support/services.ts';

const manifestOf = (relDir: string): ModelManifest =>
  manifestSchema.parse(JSON.parse(readFileSync(path.join(REPO_ROOT, relDir, 'model.json'), 'utf8')));

const fraud = manifestOf('models/fraud-risk/2');

/** The InferqError a call throws, so each case can check its code and details. */
function refusal(run: () => unknown): InferqError {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof InferqError, `expected an InferqError, got ${String(error)}`);
    return error;
  }
  assert.fail('the input was accepted');
}

const tensorRow = (row: number[]) => ({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 8], data: row }] });

describe('feature ranges and float32 overflow', () => {
  test('both demo fraud-risk versions declare a range for every feature', () => {
    for (const version of ['1', '2']) {
      const manifest = manifestOf(`models/fraud-risk/${version}`);
      assert.deepEqual(Object.keys(manifest.features?.ranges ?? {}).sort(), [...(manifest.features?.names ?? [])].sort());
    }
  });

  test('values outside a declared range are INPUT_OUT_OF_RANGE (422) with the feature, the value and the range', () => {
    const cases: [string, number, { min?: number; max?: number }][] = [
      ['hour_of_day', 99, { min: 0, max: 23 }],
      ['merchant_risk', 7, { min: 0, max: 1 }],
      ['is_foreign', 3, { min: 0, max: 1 }],
      ['amount', -5, { min: 0 }],
    ];
    for (const [feature, value, range] of cases) {
      const error = refusal(() => validateModelInput(fraud, { features: { ...SAFE_TRANSACTION, [feature]: value } }, 10));
      assert.equal(error.code, 'INPUT_OUT_OF_RANGE', feature);
      assert.equal(error.status, 422);
      assert.deepEqual(error.details, { row: 0, feature, value, range });
      assert.match(error.message, new RegExp(`feature ${feature} \\(${value}\\)`));
    }
  });

  test('the bounds themselves are accepted', () => {
    const edge = { ...SAFE_TRANSACTION, hour_of_day: 23, merchant_risk: 0, is_foreign: 1, amount: 0 };
    assert.deepEqual(validateModelInput(fraud, { features: edge }, 10).inputs[0]?.data, Object.values(edge));
  });

  test('a row of a list names its index', () => {
    const error = refusal(() => validateModelInput(fraud, { features: [SAFE_TRANSACTION, { ...SAFE_TRANSACTION, hour_of_day: 24 }] }, 10));
    assert.equal(error.code, 'INPUT_OUT_OF_RANGE');
    assert.equal(error.details?.row, 1);
  });

  test('the ranges hold for the feature tensor too, column by column', () => {
    const error = refusal(() => validateModelInput(fraud, tensorRow([25, 14, 0.05, 2000, 2, 3, 5, 1]), 10));
    assert.equal(error.code, 'INPUT_OUT_OF_RANGE');
    assert.deepEqual(error.details, { input: 'features', index: 6, row: 0, feature: 'is_foreign', value: 5, range: { min: 0, max: 1 } });
  });

  test('a value that overflows float32 (1e39 would become Infinity) is INPUT_VALUE_INVALID, as a feature or a tensor element', () => {
    const asFeature = refusal(() => validateModelInput(fraud, { features: { ...SAFE_TRANSACTION, amount: 1e39 } }, 10));
    assert.equal(asFeature.code, 'INPUT_VALUE_INVALID');
    assert.equal(asFeature.status, 422);
    assert.deepEqual(asFeature.details, { row: 0, feature: 'amount', value: 1e39, range: { min: -3.4028234663852886e38, max: 3.4028234663852886e38 } });

    const wide = manifestOf('models/wide-mlp/1');
    const data = Array.from({ length: 64 }, (_, i) => (i === 5 ? -1e39 : 0.5));
    const asTensor = refusal(() => validateModelInput(wide, { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 64], data }] }, 10));
    assert.equal(asTensor.code, 'INPUT_VALUE_INVALID');
    assert.equal(asTensor.details?.index, 5);
    assert.equal(asTensor.details?.value, -1e39);
  });

  test('an image model sent features says it takes an image', () => {
    const error = refusal(() => validateModelInput(manifestOf('models/textline-ocr/1'), { features: { x: 1 } }, 10));
    assert.equal(error.code, 'FEATURES_NOT_SUPPORTED');
    assert.match(error.message, /takes an image/);
    assert.deepEqual(error.details, { takes: 'image' });
  });

  test('a manifest whose ranges name an unknown feature, or put min above max, is refused', () => {
    const raw = JSON.parse(readFileSync(path.join(REPO_ROOT, 'models/fraud-risk/2/model.json'), 'utf8'));
    const unknown = manifestSchema.safeParse({ ...raw, features: { ...raw.features, ranges: { velocity: { max: 3 } } } });
    assert.equal(unknown.success, false);
    assert.match(unknown.error?.message ?? '', /velocity, which is not in features\.names/);
    const inverted = manifestSchema.safeParse({ ...raw, features: { ...raw.features, ranges: { amount: { min: 10, max: 1 } } } });
    assert.equal(inverted.success, false);
    assert.match(inverted.error?.message ?? '', /min is above max/);
  });
});

describe('a result never carries null for a NaN or infinite output', () => {
  const probability = (values: number[]) => ({ probability: { type: 'float32' as const, dims: [values.length, 1], data: Float32Array.from(values) } });

  test('binary-threshold: a NaN probability fails the job with INFERENCE_FAILED instead of answering null', async () => {
    const results = await ResultBuilder.load(fraud, path.join(REPO_ROOT, 'models/fraud-risk/2'));
    assert.deepEqual(results.build('prediction', probability([0.75])), { probability: 0.75, label: 'fraud' });
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY]) {
      const error = refusal(() => results.build('prediction', probability([bad])));
      assert.equal(error.code, 'INFERENCE_FAILED');
      assert.deepEqual(error.details, { output: 'probability', row: 0 });
    }
    assert.equal(refusal(() => results.build('predictions', probability([0.1, Number.NaN]))).details?.row, 1);
  });

  test('raw V2 outputs with a NaN fail the same way', async () => {
    const results = await ResultBuilder.load(fraud, path.join(REPO_ROOT, 'models/fraud-risk/2'));
    assert.equal(refusal(() => results.build('outputs', probability([0.2, Number.NaN]))).code, 'INFERENCE_FAILED');
    assert.deepEqual(results.build('outputs', probability([0.25])), { outputs: [{ name: 'probability', datatype: 'FP32', shape: [1, 1], data: [0.25] }] });
  });
});

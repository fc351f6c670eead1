import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { predictionBucket, predictionIdTime, sampledIn } from '../../packages/core/src/prediction-record.ts';
import { newBatchId, newJobId } from '../../packages/core/src/job-id.ts';
import { manifestSchema } from '../../packages/inference/src/manifest.ts';
import { featureDrift, psi } from '../../packages/jobs/src/feature-drift.ts';
import { describeInputs } from '../../packages/jobs/src/prediction-entry.ts';
import { outcomeOf, summarizeQuality } from '../../packages/jobs/src/prediction-quality.ts';
import { packTensor } from '../../packages/inference/src/tensor-codec.ts';

const manifest = manifestSchema.parse({
  sha256: 'a'.repeat(64),
  inputs: [{ name: 'features', datatype: 'FP32', shape: [-1, 2] }],
  outputs: [{ name: 'probability', datatype: 'FP32', shape: [-1, 1] }],
  features: { input: 'features', names: ['x', 'y'] },
  labels: ['no', 'yes'],
  postprocess: { kind: 'binary-threshold', output: 'probability' },
});

/** A seeded uniform sequence, so the PSI figures below never change. */
function uniform(seed: number, n: number, from: number, to: number): number[] {
  let s = seed >>> 0;
  return Array.from({ length: n }, () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return from + ((to - from) * s) / 0x1_0000_0000;
  });
}

describe('prediction ids, sampling and inputs', () => {
  test('the time and hour bucket of job and batch-row ids come from their ULID', () => {
    const before = Date.now();
    const job = newJobId('scorer', 'tenant-a');
    const row = `${newBatchId('scorer')}:17`;
    for (const id of [job, row]) {
      const t = predictionIdTime(id) as number;
      assert.ok(t >= before && t <= Date.now(), `${id}: ${t}`);
      assert.equal(predictionBucket(t), Math.floor(t / 3_600_000));
    }
    assert.equal(predictionIdTime('nonsense'), undefined);
  });

  test('sampling is decided by the id: the same id always, about the rate of many', () => {
    const ids = Array.from({ length: 4000 }, () => newJobId('scorer', 't'));
    const inAtQuarter = ids.filter((id) => sampledIn(id, 0.25)).length;
    assert.ok(inAtQuarter > 800 && inAtQuarter < 1200, `${inAtQuarter} of 4000 at 0.25`);
    for (const id of ids.slice(0, 50)) assert.equal(sampledIn(id, 0.25), sampledIn(id, 0.25));
    assert.ok(ids.every((id) => sampledIn(id, 1)) && ids.every((id) => !sampledIn(id, 0)));
  });

  test('tabular features are kept by name; other tensors as a digest and size', () => {
    const features = packTensor({ name: 'features', datatype: 'FP32', shape: [1, 2], data: [0.05, -3] });
    assert.deepEqual(describeInputs(manifest, [features]), { inputs: { x: 0.05, y: -3 }, driftRow: [0.05, -3] });
    const tensorOnly = manifestSchema.parse({ ...manifest, features: undefined, labels: undefined, postprocess: undefined });
    const described = describeInputs(tensorOnly, [features]);
    assert.equal(described.inputs, undefined);
    assert.equal(described.input_digest?.bytes, 8);
    assert.match(described.input_digest?.sha256 ?? '', /^[0-9a-f]{64}$/);
    const storing = manifestSchema.parse({ ...tensorOnly, prediction_log: { store_inputs: true } });
    assert.deepEqual(describeInputs(storing, [features]).inputs, [features]);
  });
});

describe('quality of labelled predictions', () => {
  test('accuracy, precision and recall of the positive label, log loss, calibration', () => {
    const o = (p: number, actual: string) => outcomeOf(manifest, { probability: p, label: p >= 0.5 ? 'yes' : 'no' }, actual, 0)!;
    // 3 true positives, 1 false positive, 1 false negative, 3 true negatives.
    const outcomes = [o(0.9, 'yes'), o(0.8, 'yes'), o(0.7, 'yes'), o(0.6, 'no'), o(0.4, 'yes'), o(0.3, 'no'), o(0.2, 'no'), o(0.1, 'no')];
    const q = summarizeQuality(outcomes, 'yes');
    assert.equal(q.labelled, 8);
    assert.equal(q.accuracy, 0.75);
    assert.equal(q.precision, 0.75);
    assert.equal(q.recall, 0.75);
    const expectedLoss = -[0.9, 0.8, 0.7, 0.4, 0.4, 0.7, 0.8, 0.9].reduce((s, p) => s + Math.log(p), 0) / 8;
    assert.ok(Math.abs((q.log_loss as number) - expectedLoss) < 1e-6);
    assert.equal(q.calibration.length, 10);
    assert.deepEqual(q.calibration[9], { from: 0.9, to: 1, count: 1, mean_predicted: 0.9, observed: 1 });
    assert.deepEqual(q.calibration[6], { from: 0.6, to: 0.7, count: 1, mean_predicted: 0.6, observed: 0 });
    assert.equal(summarizeQuality([], 'yes').accuracy, null);
  });
});

describe('feature drift', () => {
  test('PSI is near 0 for the same distribution and large for a shifted one', () => {
    const reference = uniform(1, 2000, 0, 1);
    assert.ok(psi(reference, uniform(2, 2000, 0, 1)) < 0.05);
    assert.ok(psi(reference, uniform(3, 2000, 0.5, 1.5)) > 1);
  });

  test('only the shifted feature is reported as drifted', () => {
    const reference = uniform(4, 1000, -1, 1).map((x, i) => [x, uniform(5 + i, 1, -1, 1)[0] as number]);
    const recent = uniform(6, 1000, -1, 1).map((x, i) => [x, (uniform(9000 + i, 1, -1, 1)[0] as number) + 2]);
    const drift = featureDrift(['x', 'y'], reference, recent, 0.2);
    assert.equal(drift.x?.drifted, false, `x: ${drift.x?.psi}`);
    assert.equal(drift.y?.drifted, true, `y: ${drift.y?.psi}`);
  });
});

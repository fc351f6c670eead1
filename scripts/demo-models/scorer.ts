/**
 * Test fixture scorer: a two-feature binary classifier for the prediction log's quality and
 * drift tests. probability = sigmoid(w * x), labels ["no", "yes"], so with labels set by the
 * rule "yes when x > 0" version 1 is nearly always right, and version 2 (w negated) nearly
 * always wrong: a canary made worse on purpose. Feature `y` is scored by neither (weight 0); it
 * is there so drift can be shown on one feature and not the other.
 */
import * as ort from 'onnxruntime-node';
import { FLOAT, encodeModel, floatTensor, node, tensorInfo } from './onnx-builder.ts';
import { expectDims, fail, float32Data, type SmokeCheck } from './smoke-check.ts';
import { writeModel, type WrittenModel } from './write-model.ts';

const WEIGHT = 8;

function buildVersion(outDir: string, version: 1 | 2): { written: WrittenModel; check: SmokeCheck } {
  const w = version === 1 ? WEIGHT : -WEIGHT;
  const description = `Test fixture for prediction quality: probability of "yes" = sigmoid(${w} * x); y is ignored.${version === 2 ? ' Inverted canary: wrong on purpose.' : ''}`;
  const bytes = encodeModel({
    name: `scorer_v${version}`,
    docString: description,
    nodes: [node('MatMul', ['features', 'weights'], ['logit']), node('Sigmoid', ['logit'], ['probability'])],
    initializers: [floatTensor('weights', [2, 1], [w, 0])],
    inputs: [tensorInfo('features', FLOAT, ['N', 2], 'x, y')],
    outputs: [tensorInfo('probability', FLOAT, ['N', 1], 'Probability of "yes"')],
  });
  const relDir = `test/fixtures/models/scorer/${version}`;
  const written = writeModel(outDir, relDir, bytes, {
    description,
    task: 'tabular-classification',
    inputs: [{ name: 'features', datatype: 'FP32', shape: [-1, 2], description: 'x and y, in the order of features.names.' }],
    outputs: [{ name: 'probability', datatype: 'FP32', shape: [-1, 1], description: 'Probability of labels[1], "yes".' }],
    features: { input: 'features', names: ['x', 'y'] },
    labels: ['no', 'yes'],
    postprocess: { kind: 'binary-threshold', output: 'probability', threshold: 0.5 },
    max_batch_size: 64,
    max_wait_ms: 2,
  });
  const check: SmokeCheck = async (session) => {
    const out = await session.run({ features: new ort.Tensor('float32', Float32Array.from([1, 5, -1, -5]), [2, 2]) });
    const p = float32Data(relDir, expectDims(relDir, out['probability'], [2, 1]));
    const yesFirst = (p[0] as number) > 0.99 && (p[1] as number) < 0.01;
    if (yesFirst !== (version === 1)) fail(relDir, `unexpected probabilities [${Array.from(p).join(', ')}]`);
    return `x = 1 → ${p[0]?.toFixed(4)}, x = -1 → ${p[1]?.toFixed(4)}`;
  };
  return { written, check };
}

export function buildScorer(outDir: string): { written: WrittenModel; check: SmokeCheck }[] {
  return ([1, 2] as const).map((v) => buildVersion(outDir, v));
}

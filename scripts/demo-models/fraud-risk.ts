/**
 * fraud-risk v1 (logistic regression) and v2 (8-16-1 MLP), trained on the same
 * synthetic dataset so the two versions are directly comparable.
 */
import * as ort from 'onnxruntime-node';
import {
  FRAUD_FEATURE_COUNT,
  FRAUD_FEATURES,
  fitStandardizer,
  generateFraudDataset,
  splitDataset,
  standardize,
  type Dataset,
  type Standardizer,
} from './dataset.ts';
import { accuracy, rocAuc } from './metrics.ts';
import { FLOAT, encodeModel, floatTensor, node, tensorInfo, type GraphSpec } from './onnx-builder.ts';
import { mulberry32 } from './prng.ts';
import { expectDims, fail, float32Data, type SmokeCheck } from './smoke-check.ts';
import { predictLogistic, trainLogistic } from './train-logistic.ts';
import { predictMlp, trainMlp } from './train-mlp.ts';
import { writeModel, type ManifestDraft, type WrittenModel } from './write-model.ts';

const DATASET_ROWS = 20_000;
const HOLDOUT_ROWS = 4_000;
const HIDDEN_UNITS = 16;

export interface Metrics {
  trainAccuracy: number;
  trainAuc: number;
  holdoutAccuracy: number;
  holdoutAuc: number;
}

export interface BuiltFraudModel {
  written: WrittenModel;
  metrics: Metrics;
  check: SmokeCheck;
}

/** Both versions share the standardization prefix; clients send raw values and the graph does the rest. */
function standardizeNodes(s: Standardizer): Pick<GraphSpec, 'nodes' | 'initializers'> {
  return {
    nodes: [node('Sub', ['features', 'feature_mean'], ['centered']), node('Div', ['centered', 'feature_std'], ['standardized'])],
    initializers: [floatTensor('feature_mean', [FRAUD_FEATURE_COUNT], s.mean), floatTensor('feature_std', [FRAUD_FEATURE_COUNT], s.std)],
  };
}

const graphIo = {
  inputs: [tensorInfo('features', FLOAT, ['N', FRAUD_FEATURE_COUNT], `Raw transaction features in order: ${FRAUD_FEATURES.join(', ')}`)],
  outputs: [tensorInfo('probability', FLOAT, ['N', 1], 'Probability that the transaction is fraud')],
};

/**
 * What a client may send. Bounded where the feature has a meaning beyond which a value can only be a
 * mistake (an hour, a 0..1 score, a flag, half the Earth's circumference); amounts, ages and counts
 * only below, as larger real values exist even if training clipped them.
 */
const FRAUD_FEATURE_RANGES: Record<(typeof FRAUD_FEATURES)[number], { min: number; max?: number }> = {
  amount: { min: 0 },
  hour_of_day: { min: 0, max: 23 },
  merchant_risk: { min: 0, max: 1 },
  account_age_days: { min: 0 },
  txn_count_24h: { min: 0 },
  distance_from_home_km: { min: 0, max: 20_038 },
  is_foreign: { min: 0, max: 1 },
  card_present: { min: 0, max: 1 },
};

function manifestDraft(description: string): ManifestDraft {
  return {
    description,
    task: 'tabular-classification',
    inputs: [
      {
        name: 'features',
        datatype: 'FP32',
        shape: [-1, FRAUD_FEATURE_COUNT],
        description:
          'One row per transaction, raw (unscaled) values in the order of features.names: amount in USD (1..5000), ' +
          'hour_of_day (0..23), merchant_risk (0..1), account_age_days (0..3650), txn_count_24h (0..50), ' +
          'distance_from_home_km (0..2000), is_foreign (0/1), card_present (0/1). Standardization happens inside the graph.',
      },
    ],
    outputs: [
      {
        name: 'probability',
        datatype: 'FP32',
        shape: [-1, 1],
        description: 'Probability (0..1, after a final Sigmoid) that the transaction is labels[1], "fraud".',
      },
    ],
    features: { input: 'features', names: [...FRAUD_FEATURES], ranges: FRAUD_FEATURE_RANGES },
    labels: ['legit', 'fraud'],
    postprocess: { kind: 'binary-threshold', output: 'probability', threshold: 0.5 },
    max_batch_size: 64,
    max_wait_ms: 5,
  };
}

/** 16000 -> "16,000" without going through ICU, whose data can differ between Node builds. */
function thousands(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

function describe(modelKind: string, m: Metrics, holdout: Dataset): string {
  const fraudRate = holdout.y.reduce((a, b) => a + b, 0) / holdout.rows;
  return (
    `Synthetic-data demo: ${modelKind} scoring card transactions from 8 raw features. ` +
    `Trained on ${thousands(DATASET_ROWS - HOLDOUT_ROWS)} generated rows labelled by a known rule ` +
    `(scripts/demo-models/dataset.ts); holdout accuracy ${m.holdoutAccuracy.toFixed(3)}, ROC AUC ${m.holdoutAuc.toFixed(3)} ` +
    `on ${thousands(HOLDOUT_ROWS)} held-out rows (${(fraudRate * 100).toFixed(1)}% fraud, so always answering ` +
    `"legit" would score ${(1 - fraudRate).toFixed(3)}). Not a real fraud model.`
  );
}

/** Hand-picked rows: an everyday purchase, a risky-looking one, and one that trips almost every rule. */
const SMOKE_ROWS: number[][] = [
  [25, 14, 0.05, 2000, 1, 3, 0, 1],
  [300, 20, 0.3, 200, 5, 40, 0, 0],
  [2500, 3, 0.9, 5, 30, 1500, 1, 0],
];

/**
 * Runs the 3 smoke rows and the whole holdout set through onnxruntime and
 * compares with the TypeScript model, so the accuracy in the description is
 * known to be that of the file on disk.
 */
function fraudCheck(
  relDir: string,
  s: Standardizer,
  predict: (standardized: Float64Array) => Float64Array,
  holdout: Dataset,
  expectedHoldoutAccuracy: number,
): SmokeCheck {
  const run = async (session: ort.InferenceSession, d: Dataset): Promise<Float32Array> => {
    const input = new ort.Tensor('float32', Float32Array.from(d.x), [d.rows, d.cols]);
    const out = await session.run({ features: input });
    return float32Data(relDir, expectDims(relDir, out['probability'], [d.rows, 1]));
  };
  return async (session) => {
    const smoke: Dataset = { rows: 3, cols: FRAUD_FEATURE_COUNT, x: Float64Array.from(SMOKE_ROWS.flat()), y: new Uint8Array(3) };
    const got = await run(session, smoke);
    const want = predict(standardize(smoke, s));
    got.forEach((p, i) => {
      if (!(p >= 0 && p <= 1)) fail(relDir, `row ${i}: probability ${p} outside [0, 1]`);
      if (Math.abs(p - want[i]!) > 1e-4) fail(relDir, `row ${i}: onnxruntime says ${p}, TypeScript model says ${want[i]}`);
    });
    const [legit, , fraud] = got;
    if (legit === undefined || fraud === undefined || !(legit < 0.5 && fraud >= 0.5)) {
      fail(relDir, `expected the everyday row < 0.5 <= the all-red-flags row, got [${Array.from(got).join(', ')}]`);
    }
    const ortAccuracy = accuracy(await run(session, holdout), holdout.y);
    // float32 vs float64 accumulation can flip a row sitting right on the threshold, nothing more.
    if (Math.abs(ortAccuracy - expectedHoldoutAccuracy) > 2 / holdout.rows) {
      fail(relDir, `holdout accuracy in onnxruntime ${ortAccuracy} differs from training-time ${expectedHoldoutAccuracy}`);
    }
    return `probabilities [${Array.from(got, (p) => p.toFixed(4)).join(', ')}], onnxruntime holdout accuracy ${ortAccuracy.toFixed(4)}`;
  };
}

export function buildFraudModels(outDir: string): BuiltFraudModel[] {
  const data = generateFraudDataset(DATASET_ROWS, mulberry32(0x5eed_f4a0));
  const { train, holdout } = splitDataset(data, HOLDOUT_ROWS);
  const scaler = fitStandardizer(train);
  const xTrain = standardize(train, scaler);
  const xHoldout = standardize(holdout, scaler);
  const evaluate = (predict: (x: Float64Array) => Float64Array): Metrics => {
    const pTrain = predict(xTrain);
    const pHoldout = predict(xHoldout);
    return {
      trainAccuracy: accuracy(pTrain, train.y),
      trainAuc: rocAuc(pTrain, train.y),
      holdoutAccuracy: accuracy(pHoldout, holdout.y),
      holdoutAuc: rocAuc(pHoldout, holdout.y),
    };
  };
  const prefix = standardizeNodes(scaler);
  const built: BuiltFraudModel[] = [];

  {
    const model = trainLogistic(xTrain, train.y, FRAUD_FEATURE_COUNT, { epochs: 500, learningRate: 0.5 });
    const predict = (x: Float64Array) => predictLogistic(model, x, FRAUD_FEATURE_COUNT);
    const metrics = evaluate(predict);
    const description = describe('logistic regression', metrics, holdout);
    const bytes = encodeModel({
      name: 'fraud_risk_v1',
      docString: description,
      nodes: [...prefix.nodes, node('Gemm', ['standardized', 'weights', 'bias'], ['logit']), node('Sigmoid', ['logit'], ['probability'])],
      initializers: [...prefix.initializers, floatTensor('weights', [FRAUD_FEATURE_COUNT, 1], model.weights), floatTensor('bias', [1], [model.bias])],
      ...graphIo,
    });
    const relDir = 'models/fraud-risk/1';
    const written = writeModel(outDir, relDir, bytes, manifestDraft(description));
    built.push({ written, metrics, check: fraudCheck(relDir, scaler, predict, holdout, metrics.holdoutAccuracy) });
  }

  {
    const model = trainMlp(xTrain, train.y, FRAUD_FEATURE_COUNT, HIDDEN_UNITS, mulberry32(0x5eed_f4a2), {
      epochs: 2000,
      learningRate: 1.0,
    });
    const predict = (x: Float64Array) => predictMlp(model, x);
    const metrics = evaluate(predict);
    const description = describe(`small MLP (8 -> ${HIDDEN_UNITS} ReLU -> 1 sigmoid)`, metrics, holdout);
    const bytes = encodeModel({
      name: 'fraud_risk_v2',
      docString: description,
      nodes: [
        ...prefix.nodes,
        node('Gemm', ['standardized', 'w1', 'b1'], ['hidden_pre']),
        node('Relu', ['hidden_pre'], ['hidden']),
        node('Gemm', ['hidden', 'w2', 'b2'], ['logit']),
        node('Sigmoid', ['logit'], ['probability']),
      ],
      initializers: [
        ...prefix.initializers,
        floatTensor('w1', [FRAUD_FEATURE_COUNT, HIDDEN_UNITS], model.w1),
        floatTensor('b1', [HIDDEN_UNITS], model.b1),
        floatTensor('w2', [HIDDEN_UNITS, 1], model.w2),
        floatTensor('b2', [1], [model.b2]),
      ],
      ...graphIo,
    });
    const relDir = 'models/fraud-risk/2';
    const written = writeModel(outDir, relDir, bytes, manifestDraft(description));
    built.push({ written, metrics, check: fraudCheck(relDir, scaler, predict, holdout, metrics.holdoutAccuracy) });
  }

  return built;
}

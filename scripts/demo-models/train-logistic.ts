/**
 * Logistic regression by plain full-batch gradient descent on standardized
 * features. Full batch (no shuffling) keeps the result a pure function of the
 * data, which the byte-identical rebuild depends on.
 */
import { sigmoid } from './sigmoid.ts';

export interface LogisticModel {
  /** One weight per feature, float32-rounded (see roundToFloat32). */
  weights: Float64Array;
  bias: number;
}

export interface GradientDescentOptions {
  epochs: number;
  learningRate: number;
}

export function trainLogistic(
  x: Float64Array,
  y: Uint8Array,
  cols: number,
  { epochs, learningRate }: GradientDescentOptions,
): LogisticModel {
  const rows = y.length;
  const weights = new Float64Array(cols);
  let bias = 0;
  const grad = new Float64Array(cols);
  for (let epoch = 0; epoch < epochs; epoch++) {
    grad.fill(0);
    let gradBias = 0;
    for (let i = 0; i < rows; i++) {
      let z = bias;
      for (let j = 0; j < cols; j++) z += weights[j]! * x[i * cols + j]!;
      // d(log loss)/dz for a sigmoid output is simply p - y.
      const err = sigmoid(z) - y[i]!;
      for (let j = 0; j < cols; j++) grad[j] = grad[j]! + err * x[i * cols + j]!;
      gradBias += err;
    }
    for (let j = 0; j < cols; j++) weights[j] = weights[j]! - (learningRate * grad[j]!) / rows;
    bias -= (learningRate * gradBias) / rows;
  }
  // The graph stores float32; evaluating the rounded weights makes the printed metrics those of the shipped file.
  return { weights: weights.map(Math.fround), bias: Math.fround(bias) };
}

export function predictLogistic(m: LogisticModel, x: Float64Array, cols: number): Float64Array {
  const rows = x.length / cols;
  const out = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    let z = m.bias;
    for (let j = 0; j < cols; j++) z += m.weights[j]! * x[i * cols + j]!;
    out[i] = sigmoid(z);
  }
  return out;
}

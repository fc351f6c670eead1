/**
 * A one-hidden-layer MLP (inputs -> hidden ReLU -> 1 sigmoid) trained with plain
 * full-batch gradient descent and hand-written backprop. Tiny on purpose: the
 * point is a second model version with a different graph, not state of the art.
 */
import { normal, type Rng } from './prng.ts';
import { sigmoid } from './sigmoid.ts';
import type { GradientDescentOptions } from './train-logistic.ts';

export interface MlpModel {
  inputs: number;
  hidden: number;
  /** [inputs, hidden] row-major: the layout Gemm's B takes with transB = 0. */
  w1: Float64Array;
  b1: Float64Array;
  /** [hidden, 1]. */
  w2: Float64Array;
  b2: number;
}

export function trainMlp(
  x: Float64Array,
  y: Uint8Array,
  inputs: number,
  hidden: number,
  rng: Rng,
  { epochs, learningRate }: GradientDescentOptions,
): MlpModel {
  const rows = y.length;
  // He init for the ReLU layer, Xavier-style for the sigmoid output; zero biases.
  const w1 = Float64Array.from({ length: inputs * hidden }, () => normal(rng) * Math.sqrt(2 / inputs));
  const b1 = new Float64Array(hidden);
  const w2 = Float64Array.from({ length: hidden }, () => normal(rng) * Math.sqrt(1 / hidden));
  let b2 = 0;

  const gw1 = new Float64Array(inputs * hidden);
  const gb1 = new Float64Array(hidden);
  const gw2 = new Float64Array(hidden);
  const h = new Float64Array(hidden);
  for (let epoch = 0; epoch < epochs; epoch++) {
    gw1.fill(0);
    gb1.fill(0);
    gw2.fill(0);
    let gb2 = 0;
    for (let i = 0; i < rows; i++) {
      const row = i * inputs;
      for (let k = 0; k < hidden; k++) {
        let a = b1[k]!;
        for (let j = 0; j < inputs; j++) a += x[row + j]! * w1[j * hidden + k]!;
        h[k] = Math.max(a, 0);
      }
      let z = b2;
      for (let k = 0; k < hidden; k++) z += h[k]! * w2[k]!;
      const dz = sigmoid(z) - y[i]!;
      gb2 += dz;
      for (let k = 0; k < hidden; k++) {
        gw2[k] = gw2[k]! + dz * h[k]!;
        // ReLU passes gradient only where it was active; h > 0 is the same test as pre-activation > 0.
        if (h[k]! <= 0) continue;
        const dh = dz * w2[k]!;
        gb1[k] = gb1[k]! + dh;
        for (let j = 0; j < inputs; j++) gw1[j * hidden + k] = gw1[j * hidden + k]! + dh * x[row + j]!;
      }
    }
    const step = learningRate / rows;
    for (let k = 0; k < gw1.length; k++) w1[k] = w1[k]! - step * gw1[k]!;
    for (let k = 0; k < hidden; k++) {
      b1[k] = b1[k]! - step * gb1[k]!;
      w2[k] = w2[k]! - step * gw2[k]!;
    }
    b2 -= step * gb2;
  }
  // Rounded to float32 so TypeScript-side metrics describe exactly the weights the graph stores.
  return {
    inputs,
    hidden,
    w1: w1.map(Math.fround),
    b1: b1.map(Math.fround),
    w2: w2.map(Math.fround),
    b2: Math.fround(b2),
  };
}

export function predictMlp(m: MlpModel, x: Float64Array): Float64Array {
  const rows = x.length / m.inputs;
  const out = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    let z = m.b2;
    for (let k = 0; k < m.hidden; k++) {
      let a = m.b1[k]!;
      for (let j = 0; j < m.inputs; j++) a += x[i * m.inputs + j]! * m.w1[j * m.hidden + k]!;
      if (a > 0) z += a * m.w2[k]!;
    }
    out[i] = sigmoid(z);
  }
  return out;
}

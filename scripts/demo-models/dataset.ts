/**
 * Synthetic card-transaction data for the fraud-risk demo models.
 *
 * Labels come from a known ground-truth rule (fraudLogit below) plus noise, so
 * the demo can show a model learning something real-looking without shipping
 * anyone's transaction data. Nothing here reflects real fraud patterns.
 */
import { bernoulli, normal, uniformInt, type Rng } from './prng.ts';

export const FRAUD_FEATURES = [
  'amount',
  'hour_of_day',
  'merchant_risk',
  'account_age_days',
  'txn_count_24h',
  'distance_from_home_km',
  'is_foreign',
  'card_present',
] as const;
export type FraudFeature = (typeof FRAUD_FEATURES)[number];
export const FRAUD_FEATURE_COUNT = FRAUD_FEATURES.length;

/** Row-major matrix of `rows` x `cols` plus one 0/1 label per row. */
export interface Dataset {
  rows: number;
  cols: number;
  x: Float64Array;
  y: Uint8Array;
}

export type FraudRow = Record<FraudFeature, number>;

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}

/** One transaction drawn from skewed marginals that look plausible for card traffic. */
function sampleTransaction(rng: Rng): FraudRow {
  // Log-normal around a ~$45 median with a long tail, clipped to the documented 1..5000 range.
  const amount = Math.round(clamp(Math.exp(3.8 + 1.1 * normal(rng)), 1, 5000) * 100) / 100;
  // Most traffic is daytime; a fifth is spread uniformly over the whole day, nights included.
  const hour_of_day = bernoulli(rng, 0.8) ? uniformInt(rng, 7, 22) : uniformInt(rng, 0, 23);
  // Most merchants are low risk.
  const merchant_risk = Math.round(rng() ** 2.5 * 1000) / 1000;
  // A minority of brand-new accounts on top of a uniform 0..10 year spread.
  const account_age_days = bernoulli(rng, 0.15) ? uniformInt(rng, 0, 60) : uniformInt(rng, 0, 3650);
  const txn_count_24h = Math.min(50, Math.floor(-3 * Math.log(1 - rng())));
  // Mostly local spending, with an occasional trip.
  const distance_from_home_km = Math.round(
    bernoulli(rng, 0.9) ? clamp(-30 * Math.log(1 - rng()), 0, 2000) : 100 + rng() * 1900,
  );
  const is_foreign = bernoulli(rng, distance_from_home_km > 500 ? 0.6 : 0.03) ? 1 : 0;
  const card_present = bernoulli(rng, 0.65) ? 1 : 0;
  return {
    amount,
    hour_of_day,
    merchant_risk,
    account_age_days,
    txn_count_24h,
    distance_from_home_km,
    is_foreign,
    card_present,
  };
}

/**
 * The ground-truth rule: fraud log-odds before noise.
 * Several terms are deliberately non-linear in the raw features (log amount,
 * a night-hours window, exponential decay of account age, log distance) so a
 * small MLP has something to gain over logistic regression.
 */
export function fraudLogit(r: FraudRow): number {
  const night = r.hour_of_day <= 5 ? 1 : 0;
  return (
    -6.4 +
    1.8 * (Math.log(r.amount) - 3.8) + // large amounts
    2.6 * night + // 00:00-05:59
    7.0 * (r.merchant_risk - 0.2) + // risky merchants
    3.2 * Math.exp(-r.account_age_days / 90) + // new accounts
    0.24 * Math.min(r.txn_count_24h, 20) + // bursts of recent activity, saturating
    0.9 * Math.log1p(r.distance_from_home_km / 50) + // far from home
    1.8 * r.is_foreign +
    2.2 * (1 - r.card_present) // card-not-present
  );
}

/** Noise on the log-odds (sd 0.5) plus Bernoulli sampling keeps the task from being perfectly separable. */
export function generateFraudDataset(rows: number, rng: Rng): Dataset {
  const cols = FRAUD_FEATURE_COUNT;
  const x = new Float64Array(rows * cols);
  const y = new Uint8Array(rows);
  for (let i = 0; i < rows; i++) {
    const r = sampleTransaction(rng);
    FRAUD_FEATURES.forEach((f, j) => {
      x[i * cols + j] = r[f];
    });
    const z = fraudLogit(r) + 0.5 * normal(rng);
    y[i] = bernoulli(rng, 1 / (1 + Math.exp(-z))) ? 1 : 0;
  }
  return { rows, cols, x, y };
}

/** Rows are i.i.d., so the first part as train and the rest as holdout is already a random split. */
export function splitDataset(d: Dataset, holdoutRows: number): { train: Dataset; holdout: Dataset } {
  const trainRows = d.rows - holdoutRows;
  const cut = trainRows * d.cols;
  return {
    train: { rows: trainRows, cols: d.cols, x: d.x.slice(0, cut), y: d.y.slice(0, trainRows) },
    holdout: { rows: holdoutRows, cols: d.cols, x: d.x.slice(cut), y: d.y.slice(trainRows) },
  };
}

export interface Standardizer {
  mean: Float64Array;
  std: Float64Array;
}

/**
 * Per-column mean/std of the training set. Both are rounded to float32 because
 * that is what the ONNX graph stores: training on the rounded values keeps the
 * TypeScript metrics identical to what the shipped graph computes.
 */
export function fitStandardizer(d: Dataset): Standardizer {
  const mean = new Float64Array(d.cols);
  const std = new Float64Array(d.cols);
  for (let j = 0; j < d.cols; j++) {
    let sum = 0;
    for (let i = 0; i < d.rows; i++) sum += d.x[i * d.cols + j]!;
    const m = sum / d.rows;
    let sq = 0;
    for (let i = 0; i < d.rows; i++) sq += (d.x[i * d.cols + j]! - m) ** 2;
    const s = Math.sqrt(sq / d.rows);
    mean[j] = Math.fround(m);
    // A constant column would divide by zero; 1 leaves it merely centred.
    std[j] = Math.fround(s > 1e-12 ? s : 1);
  }
  return { mean, std };
}

export function standardize(d: Dataset, s: Standardizer): Float64Array {
  const out = new Float64Array(d.x.length);
  for (let i = 0; i < d.rows; i++) {
    for (let j = 0; j < d.cols; j++) {
      const k = i * d.cols + j;
      out[k] = Math.fround(Math.fround(d.x[k]! - s.mean[j]!) / s.std[j]!);
    }
  }
  return out;
}

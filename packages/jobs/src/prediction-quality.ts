import type { ModelManifest } from '@inferq/inference/manifest';

/** One labelled prediction of a classifier, as kept in its version's quality window. */
export interface LabelledOutcome {
  /** Epoch ms the prediction was logged. */
  at: number;
  /** The label that arrived. */
  actual: string;
  /** The label the model gave. */
  predicted: string;
  /** The probability the model gave the actual label; null when it gave none. */
  p_actual: number | null;
  /** The probability the model gave the positive label; null when it gave none. */
  p_positive: number | null;
}

/** The class precision and recall are measured for: the manifest's choice, else the second label. */
export function positiveLabel(manifest: ModelManifest): string | undefined {
  return manifest.prediction_log.positive_label ?? manifest.labels?.[1] ?? manifest.labels?.[0];
}

/** Whether quality is measured for the model: a classifier with labels and a post-processing that names them. */
export function isClassifier(manifest: ModelManifest): boolean {
  return Boolean(manifest.labels && manifest.labels.length >= 2 && (manifest.postprocess?.kind === 'binary-threshold' || manifest.postprocess?.kind === 'argmax'));
}

const clamp = (p: number) => Math.min(1, Math.max(0, p));

/**
 * A labelled outcome from a prediction (`{probability, label}` or `{label, confidence, scores}`)
 * and the label that arrived; undefined when the prediction is not one row of a classifier.
 */
export function outcomeOf(manifest: ModelManifest, prediction: unknown, actual: string, at: number): LabelledOutcome | undefined {
  const labels = manifest.labels;
  if (!labels || !isClassifier(manifest) || !prediction || typeof prediction !== 'object') return undefined;
  const p = prediction as { label?: unknown; probability?: unknown; scores?: unknown };
  if (typeof p.label !== 'string') return undefined;
  const positive = positiveLabel(manifest) as string;
  let probabilityOf: (label: string) => number | null = () => null;
  if (manifest.postprocess?.kind === 'binary-threshold' && typeof p.probability === 'number') {
    const second = clamp(p.probability);
    probabilityOf = (label) => (label === labels[1] ? second : 1 - second);
  } else if (p.scores && typeof p.scores === 'object') {
    const scores = p.scores as Record<string, unknown>;
    probabilityOf = (label) => (typeof scores[label] === 'number' ? clamp(scores[label]) : null);
  }
  return { at, actual, predicted: p.label, p_actual: probabilityOf(actual), p_positive: probabilityOf(positive) };
}

export interface CalibrationBin {
  /** Predicted probability of the positive label, [from, to). */
  from: number;
  to: number;
  count: number;
  mean_predicted: number | null;
  /** Share of the bin's predictions whose actual label was the positive one. */
  observed: number | null;
}

export interface VersionQuality {
  labelled: number;
  accuracy: number | null;
  positive_label: string | null;
  precision: number | null;
  recall: number | null;
  log_loss: number | null;
  calibration: CalibrationBin[];
}

const EPSILON = 1e-15;
const round = (x: number) => Math.round(x * 1e6) / 1e6;

/** Accuracy, precision and recall of the positive label, log loss and a ten-bin calibration table. */
export function summarizeQuality(outcomes: readonly LabelledOutcome[], positive: string | undefined, bins = 10): VersionQuality {
  const n = outcomes.length;
  const correct = outcomes.filter((o) => o.actual === o.predicted).length;
  const predictedPositive = outcomes.filter((o) => o.predicted === positive);
  const actualPositive = outcomes.filter((o) => o.actual === positive);
  const truePositive = predictedPositive.filter((o) => o.actual === positive).length;
  const withProbability = outcomes.filter((o) => o.p_actual !== null);
  const logLoss = withProbability.length === 0 ? null : withProbability.reduce((sum, o) => sum - Math.log(Math.max(EPSILON, o.p_actual as number)), 0) / withProbability.length;
  const calibration: CalibrationBin[] = Array.from({ length: bins }, (_, b) => {
    const from = b / bins;
    const to = (b + 1) / bins;
    const inBin = outcomes.filter((o) => o.p_positive !== null && o.p_positive >= from && (o.p_positive < to || (b === bins - 1 && o.p_positive <= to)));
    return {
      from: round(from),
      to: round(to),
      count: inBin.length,
      mean_predicted: inBin.length === 0 ? null : round(inBin.reduce((s, o) => s + (o.p_positive as number), 0) / inBin.length),
      observed: inBin.length === 0 ? null : round(inBin.filter((o) => o.actual === positive).length / inBin.length),
    };
  });
  return {
    labelled: n,
    accuracy: n === 0 ? null : round(correct / n),
    positive_label: positive ?? null,
    precision: predictedPositive.length === 0 ? null : round(truePositive / predictedPositive.length),
    recall: actualPositive.length === 0 ? null : round(truePositive / actualPositive.length),
    log_loss: logLoss === null ? null : round(logLoss),
    calibration,
  };
}

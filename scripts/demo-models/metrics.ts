/** Binary-classification metrics for the training printout and the manifest description. */

export function accuracy(probs: ArrayLike<number>, labels: ArrayLike<number>, threshold = 0.5): number {
  let correct = 0;
  for (let i = 0; i < labels.length; i++) {
    // ">=" matches the binary-threshold postprocess: at or above the threshold is the positive label.
    const predicted = (probs[i] ?? 0) >= threshold ? 1 : 0;
    if (predicted === labels[i]) correct++;
  }
  return correct / labels.length;
}

/**
 * ROC AUC as the Mann-Whitney U statistic: the probability that a random
 * positive outscores a random negative, with ties counted as half.
 */
export function rocAuc(probs: ArrayLike<number>, labels: ArrayLike<number>): number {
  const order = Array.from({ length: labels.length }, (_, i) => i).sort(
    (a, b) => (probs[a] ?? 0) - (probs[b] ?? 0),
  );
  let positives = 0;
  let rankSumPositives = 0;
  let i = 0;
  while (i < order.length) {
    // Tied scores share the average of the ranks they span.
    let j = i;
    const score = probs[order[i]!] ?? 0;
    while (j + 1 < order.length && (probs[order[j + 1]!] ?? 0) === score) j++;
    const avgRank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) {
      if (labels[order[k]!] === 1) {
        positives++;
        rankSumPositives += avgRank;
      }
    }
    i = j + 1;
  }
  const negatives = labels.length - positives;
  if (positives === 0 || negatives === 0) return Number.NaN;
  return (rankSumPositives - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** A feature's drift between a reference sample and a recent one. */
export interface FeatureDrift {
  psi: number;
  drifted: boolean;
}

const FLOOR = 1e-4;

/**
 * Population stability index of `recent` against `reference`: bins at the reference's deciles
 * (fewer when it has few distinct values), each side's share floored at 1e-4 so an empty bin
 * counts as a large difference instead of an infinite one. 0 is identical; above 0.2 is the
 * usual "shifted" threshold.
 */
export function psi(reference: readonly number[], recent: readonly number[], bins = 10): number {
  if (reference.length === 0 || recent.length === 0) return 0;
  const sorted = [...reference].sort((a, b) => a - b);
  const edges = [...new Set(Array.from({ length: bins - 1 }, (_, i) => sorted[Math.floor(((i + 1) * sorted.length) / bins)] as number))];
  // Bin k holds values below edges[k] (and at or above edges[k - 1]); the last bin everything above.
  const shares = (values: readonly number[]) => {
    const counts = new Array<number>(edges.length + 1).fill(0);
    for (const v of values) {
      let k = 0;
      while (k < edges.length && v >= (edges[k] as number)) k++;
      counts[k] = (counts[k] as number) + 1;
    }
    return counts.map((c) => Math.max(FLOOR, c / values.length));
  };
  const expected = shares(reference);
  const actual = shares(recent);
  let total = 0;
  for (let k = 0; k < expected.length; k++) {
    const e = expected[k] as number;
    const a = actual[k] as number;
    total += (a - e) * Math.log(a / e);
  }
  return Math.round(total * 1e6) / 1e6;
}

/** Each feature's PSI, and whether it is above `threshold`. */
export function featureDrift(names: readonly string[], reference: readonly number[][], recent: readonly number[][], threshold: number): Record<string, FeatureDrift> {
  return Object.fromEntries(
    names.map((name, j) => {
      const value = psi(
        reference.map((r) => r[j] as number).filter(Number.isFinite),
        recent.map((r) => r[j] as number).filter(Number.isFinite),
      );
      return [name, { psi: value, drifted: value > threshold }];
    }),
  );
}

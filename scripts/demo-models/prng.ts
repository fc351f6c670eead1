/**
 * Seeded randomness. Math.random cannot be seeded, and the model files must be
 * byte-identical on every run so that their sha256 (pinned in model.json) and
 * git diffs stay stable.
 */

export type Rng = () => number;

/** mulberry32: tiny 32-bit state generator, uniform in [0, 1). Plenty for synthetic data and weight init. */
export function mulberry32(seed: number): Rng {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal via Box-Muller; `1 - rng()` keeps the log argument in (0, 1]. */
export function normal(rng: Rng): number {
  const u1 = 1 - rng();
  const u2 = rng();
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

export function bernoulli(rng: Rng, p: number): boolean {
  return rng() < p;
}

/** Integer in [lo, hi], both inclusive. */
export function uniformInt(rng: Rng, lo: number, hi: number): number {
  return lo + Math.floor(rng() * (hi - lo + 1));
}

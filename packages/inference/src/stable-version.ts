import { compareVersions } from './model-repository.ts';

/**
 * The weighted versions of a routing policy, stable first: the one with most weight (the oldest
 * on a tie), then the canaries. Batch scoring runs on the stable version, guardrails judge the
 * canaries against it.
 */
export function byWeight(weights: Record<string, number>): string[] {
  return Object.entries(weights)
    .filter(([, w]) => w > 0)
    .sort(([a, wa], [b, wb]) => wb - wa || compareVersions(a, b))
    .map(([v]) => v);
}

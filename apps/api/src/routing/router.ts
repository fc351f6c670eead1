import { createHash } from 'node:crypto';
import type { RoutedBy } from '@inferq/core/job-types';
import { compareVersions } from '@inferq/inference/model-repository';
import type { RoutingPolicy } from '@inferq/routing/routing-policy';

export interface RouteDecision {
  version: string;
  routed_by: RoutedBy;
}

/** A routing key's fixed point in [0, 100): the same key lands on the same version while the weights stand. */
export function stickyPoint(routingKey: string): number {
  const digest = createHash('sha256').update(routingKey).digest();
  return (digest.readUIntBE(0, 6) / 2 ** 48) * 100;
}

/**
 * The version whose slice of [0, 100) holds `point`, slices laid out in version order (the same
 * in every process). Undefined when no version has weight.
 */
export function versionAt(weights: Record<string, number>, point: number): string | undefined {
  const entries = Object.entries(weights).filter(([, w]) => w > 0).sort(([a], [b]) => compareVersions(a, b));
  let cumulative = 0;
  for (const [version, weight] of entries) {
    cumulative += weight;
    if (point < cumulative) return version;
  }
  return entries.at(-1)?.[0];
}

/**
 * Picks a version for a job that names none: by its routing key when it has one (sticky), else
 * at random by weight. `available` says whether this process can take jobs for a version; a
 * policy pointing at one it cannot goes to the fallback, then to `otherwise`.
 */
export function route(policy: RoutingPolicy, routingKey: string | undefined, available: (version: string) => boolean, otherwise: string | undefined, random: () => number = Math.random): RouteDecision | undefined {
  const sticky = routingKey !== undefined;
  const version = versionAt(policy.weights, sticky ? stickyPoint(routingKey) : random() * 100);
  if (version !== undefined && available(version)) return { version, routed_by: sticky ? 'sticky' : 'weight' };
  if (policy.fallback && available(policy.fallback)) return { version: policy.fallback, routed_by: 'fallback' };
  return otherwise !== undefined ? { version: otherwise, routed_by: 'weight' } : undefined;
}

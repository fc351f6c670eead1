import { readHealth, type VersionHealth } from '@inferq/core/health-window';
import type { Keyspace } from '@inferq/core/keyspace';
import type { Logger } from '@inferq/core/logger';
import type { Redis } from '@inferq/core/redis-connection';
import { byWeight } from '@inferq/inference/stable-version';
import type { PolicyStore } from '@inferq/routing/policy-store';
import type { Guardrails, RoutingPolicy, StoredPolicy } from '@inferq/routing/routing-policy';

/** A version's labelled quality, as the label guardrail compares it. */
export interface LabelledFigures {
  labelled: number;
  accuracy: number | null;
  precision: number | null;
  recall: number | null;
  log_loss: number | null;
}

/** Each version's labelled quality over its predictions made since `since` (epoch ms). */
export type LabelledQualityReader = (model: string, versions: string[], since: number) => Promise<Map<string, LabelledFigures>>;

export type Rollback =
  | { canary: string; stable: string; reason: 'p95_inference_latency' | 'error_rate'; numbers: { canary: VersionHealth; stable: VersionHealth; guardrails: Guardrails } }
  | { canary: string; stable: string; reason: 'labelled_accuracy'; numbers: { canary: LabelledFigures; stable: LabelledFigures; guardrails: Guardrails } };

/** The stable version (most weight; on a tie, the oldest) and the canaries (every other weighted one). */
export function stableAndCanaries(policy: RoutingPolicy): { stable: string; canaries: string[] } | undefined {
  const [stable, ...canaries] = byWeight(policy.weights);
  if (stable === undefined || canaries.length === 0) return undefined;
  return { stable, canaries };
}

/** Which canaries break the guardrails, given each version's health. Pure, so it is unit-tested. */
export function judge(policy: RoutingPolicy, health: Map<string, VersionHealth>, guardrails: Guardrails): Rollback[] {
  const roles = stableAndCanaries(policy);
  if (!roles || !guardrails.enabled) return [];
  const stable = health.get(roles.stable);
  if (!stable || stable.requests < guardrails.min_samples) return [];
  const rollbacks: Rollback[] = [];
  for (const canary of roles.canaries) {
    const h = health.get(canary);
    if (!h || h.requests < guardrails.min_samples) continue;
    const numbers = { canary: h, stable, guardrails };
    const slower = h.inference_ms.p95 !== null && stable.inference_ms.p95 !== null && h.inference_ms.p95 - stable.inference_ms.p95 > guardrails.max_p95_inference_delta_ms;
    const failing = h.error_rate > Math.max(stable.error_rate * guardrails.max_error_rate_ratio, guardrails.min_error_rate);
    if (failing) rollbacks.push({ canary, stable: roles.stable, reason: 'error_rate', numbers });
    else if (slower) rollbacks.push({ canary, stable: roles.stable, reason: 'p95_inference_latency', numbers });
  }
  return rollbacks;
}

/**
 * Which canaries' labelled accuracy falls below the stable version's by more than
 * `max_accuracy_drop`, once both have `min_labelled` labelled predictions. Pure, so it is unit-tested.
 */
export function judgeLabelled(policy: RoutingPolicy, quality: Map<string, LabelledFigures>, guardrails: Guardrails): Rollback[] {
  const roles = stableAndCanaries(policy);
  const drop = guardrails.max_accuracy_drop;
  if (!roles || !guardrails.enabled || drop === null) return [];
  const stable = quality.get(roles.stable);
  if (!stable || stable.accuracy === null || stable.labelled < guardrails.min_labelled) return [];
  const rollbacks: Rollback[] = [];
  for (const canary of roles.canaries) {
    const q = quality.get(canary);
    if (!q || q.accuracy === null || q.labelled < guardrails.min_labelled) continue;
    if (stable.accuracy - q.accuracy > drop) rollbacks.push({ canary, stable: roles.stable, reason: 'labelled_accuracy', numbers: { canary: q, stable, guardrails } });
  }
  return rollbacks;
}

/** The policy with each rolled-back canary's weight moved onto its stable version. */
export function rolledBack(policy: RoutingPolicy, rollbacks: Rollback[]): RoutingPolicy {
  const weights = { ...policy.weights };
  for (const r of rollbacks) {
    weights[r.stable] = (weights[r.stable] ?? 0) + (weights[r.canary] ?? 0);
    weights[r.canary] = 0;
  }
  return { ...policy, weights };
}

export interface GuardrailMonitorOptions {
  redis: Redis;
  keys: Keyspace;
  store: PolicyStore;
  models: () => string[];
  policy: (model: string) => StoredPolicy | undefined;
  guardrails: (policy: RoutingPolicy) => Guardrails;
  windowMs: number;
  intervalMs: number;
  logger: Logger;
  /** Labelled quality per version; absent: only latency and errors are judged. */
  quality?: LabelledQualityReader;
}

/**
 * Every interval, checks each model that has canaries against its guardrails and rolls back the
 * ones that break them. However many API processes run, one checks a model per round (a lock in
 * Redis), and a rollback is a compare-and-set on the policy's revision, so it never undoes a
 * change made meanwhile. Health is judged only over samples since the policy last changed.
 */
export class GuardrailMonitor {
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(private readonly options: GuardrailMonitorOptions) {}

  start(): void {
    this.timer = setInterval(() => void this.round(), this.options.intervalMs);
    this.timer.unref();
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
  }

  async round(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      for (const model of this.options.models()) await this.check(model);
    } catch (error) {
      this.options.logger.warn({ err: (error as Error).message }, 'guardrail check failed; retrying next round');
    } finally {
      this.running = false;
    }
  }

  private async check(model: string): Promise<void> {
    const { redis, keys, store, logger } = this.options;
    const stored = this.options.policy(model);
    const roles = stored && stableAndCanaries(stored.policy);
    if (!stored || !roles) return;
    const guardrails = this.options.guardrails(stored.policy);
    if (!guardrails.enabled) return;
    const locked = await redis.set(keys.guardrailLock(model), '1', 'PX', Math.max(100, this.options.intervalMs - 50), 'NX');
    if (!locked) return;
    const since = Math.max(Date.now() - this.options.windowMs, Date.parse(stored.updated_at));
    const versions = [roles.stable, ...roles.canaries];
    const health = await readHealth(redis, keys, model, versions, Date.now() - since);
    const rollbacks = judge(stored.policy, health, guardrails);
    if (this.options.quality && guardrails.max_accuracy_drop !== null) {
      // Labels may come days later: judged over every labelled prediction made since the policy changed.
      const quality = await this.options.quality(model, versions, Date.parse(stored.updated_at));
      const judged = new Set(rollbacks.map((r) => r.canary));
      rollbacks.push(...judgeLabelled(stored.policy, quality, guardrails).filter((r) => !judged.has(r.canary)));
    }
    if (rollbacks.length === 0) return;
    const next = rolledBack(stored.policy, rollbacks);
    for (const [i, r] of rollbacks.entries()) {
      // One write per canary keeps one event per rollback; each is a compare-and-set on the last.
      const partial = rolledBack(stored.policy, rollbacks.slice(0, i + 1));
      const revision = await store.write(model, partial, 'guardrail', { type: 'rollback', version: r.canary, stable: r.stable, reason: r.reason, numbers: r.numbers, weights: partial.weights }, stored.revision + i);
      if (revision === undefined) return;
      logger.warn({ model, canary: r.canary, stable: r.stable, reason: r.reason, canary_figures: r.numbers.canary, stable_figures: r.numbers.stable, weights: next.weights }, 'canary rolled back');
    }
  }
}

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '@inferq/core/config';
import { InferqError } from '@inferq/core/errors';
import { readHealth } from '@inferq/core/health-window';
import type { RoutedBy } from '@inferq/core/job-types';
import type { Keyspace } from '@inferq/core/keyspace';
import type { Logger } from '@inferq/core/logger';
import type { Redis } from '@inferq/core/redis-connection';
import { defaultVersion, type ModelVersionEntry } from '@inferq/inference/model-repository';
import type { ModelCatalog } from '../services/model-catalog.ts';
import { byWeight } from '@inferq/inference/stable-version';
import { GuardrailMonitor, stableAndCanaries, type LabelledQualityReader } from './guardrails.ts';
import { PolicyCache } from './policy-cache.ts';
import { PolicyStore } from '@inferq/routing/policy-store';
import { route } from './router.ts';
import { defaultPolicy, effectiveGuardrails, referencedVersions, routingPolicySchema, type Guardrails, type RoutingPolicy, type StoredPolicy } from '@inferq/routing/routing-policy';
import { readShadowLog, summarizeShadow } from './shadow-stats.ts';
import { encodeModelsChanged } from '@inferq/core/models-changed-message';

export interface Routed {
  entry: ModelVersionEntry;
  routed_by: RoutedBy;
  /** Set for routed (not pinned) jobs when the policy names one other than the routed version. */
  fallback?: string;
  shadow?: string;
}

export interface RoutingServiceOptions {
  config: Config;
  redis: Redis;
  /** A connection for SUBSCRIBE only. */
  subscriber: Redis;
  keys: Keyspace;
  catalog: ModelCatalog;
  logger: Logger;
  /** Each version's labelled quality over predictions made since a time, for the label guardrail. */
  quality?: LabelledQualityReader;
}

/**
 * Routing for the API: decides each job's version from the cached policy (no Redis round trip),
 * seeds policies from the model repository, validates and stores admin changes, runs the
 * guardrails, and describes each model's routing status.
 */
export class RoutingService {
  private constructor(
    private readonly options: RoutingServiceOptions,
    private readonly store: PolicyStore,
    private readonly cache: PolicyCache,
    private readonly monitor: GuardrailMonitor | undefined,
  ) {}

  static async start(options: RoutingServiceOptions): Promise<RoutingService> {
    const { config, redis, keys, catalog, logger } = options;
    const store = new PolicyStore(redis, keys);
    await seedPolicies(store, catalog, config.modelDir, logger);
    const cache = await PolicyCache.start({ store, models: () => catalog.names(), subscriber: options.subscriber, keys, refreshMs: config.routingRefreshMs, logger });
    const defaults = defaultGuardrails(config);
    const monitor = config.guardrailIntervalMs > 0
      ? new GuardrailMonitor({ redis, keys, store, models: () => catalog.names(), policy: (m) => cache.get(m), guardrails: (p) => effectiveGuardrails(p, defaults), windowMs: config.healthWindowSeconds * 1000, intervalMs: config.guardrailIntervalMs, logger: logger.child({ component: 'guardrails' }), ...(options.quality ? { quality: options.quality } : {}) })
      : undefined;
    monitor?.start();
    return new RoutingService(options, store, cache, monitor);
  }

  /** The policy in force: the stored one, else 100 % to the newest available version. */
  policy(model: string): StoredPolicy {
    return this.cache.get(model) ?? defaultPolicy(defaultVersion(this.options.catalog.get(model))?.version);
  }

  /** The version a job runs on, and why. Pinned versions are checked as before; routing never touches Redis. */
  decide(model: string, pinned: string | undefined, routingKey: string | undefined): Routed {
    const { catalog } = this.options;
    if (pinned !== undefined) return { entry: catalog.resolveVersion(model, pinned), routed_by: 'pinned' };
    const { policy } = this.policy(model);
    const newest = defaultVersion(catalog.get(model))?.version;
    const decision = route(policy, routingKey, (v) => catalog.isAvailable(model, v), newest);
    const entry = catalog.resolveVersion(model, decision?.version);
    const fallback = policy.fallback && policy.fallback !== entry.version && catalog.isAvailable(model, policy.fallback) ? policy.fallback : undefined;
    const shadow = policy.shadow && policy.shadow !== entry.version && catalog.isAvailable(model, policy.shadow) ? policy.shadow : undefined;
    return { entry, routed_by: decision?.routed_by ?? 'weight', ...(fallback ? { fallback } : {}), ...(shadow ? { shadow } : {}) };
  }

  /**
   * The version a batch runs on: the one it names, else the policy's stable version (most
   * weight), so a whole file is never scored on a 5 % canary. Batches are not split by weight.
   */
  batchVersion(model: string, pinned: string | undefined): ModelVersionEntry {
    const { catalog } = this.options;
    if (pinned !== undefined) return catalog.resolveVersion(model, pinned);
    const stable = byWeight(this.policy(model).policy.weights).find((v) => catalog.isAvailable(model, v));
    return catalog.resolveVersion(model, stable);
  }

  /** Validates a new policy against the repository and the live workers, stores it, and tells every API process. */
  async put(model: string, body: unknown): Promise<StoredPolicy> {
    const { catalog } = this.options;
    const entry = catalog.get(model);
    const parsed = routingPolicySchema.safeParse(body);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
      throw new InferqError('ROUTING_INVALID', issues.map((i) => `${i.path}: ${i.message}`).join('; '), { details: { issues } });
    }
    const policy = parsed.data;
    const known = new Set(entry.versions.map((v) => v.version));
    for (const version of [...Object.keys(policy.weights), ...(policy.shadow ? [policy.shadow] : []), ...(policy.fallback ? [policy.fallback] : [])]) {
      if (!known.has(version)) throw new InferqError('ROUTING_INVALID', `model ${model} has no version ${version}`, { details: { version, versions: [...known] } });
    }
    const ready = await catalog.readyVersions(model);
    for (const version of referencedVersions(policy)) {
      if (!catalog.isAvailable(model, version) || !ready.has(version)) {
        throw new InferqError('ROUTING_VERSION_NOT_READY', `version ${version} of ${model} is not loaded by any live worker`, { details: { version, ready: [...ready] } });
      }
    }
    await this.store.write(model, policy, 'admin', { type: 'policy_changed', weights: policy.weights });
    await this.cache.refresh(model);
    return this.policy(model);
  }

  /**
   * Unloads a version: no API process routes or accepts jobs for it from now on, and each worker
   * drops it once the queue holds none of its jobs (drained first). Refused while the policy
   * still weights, shadows or falls back on it.
   */
  async unload(model: string, version: string): Promise<void> {
    const { catalog, redis, keys, logger } = this.options;
    const entry = catalog.get(model);
    if (!entry.versions.some((v) => v.version === version)) {
      throw new InferqError('MODEL_VERSION_NOT_FOUND', `model ${model} has no version ${version}`, { details: { model, version, versions: entry.versions.map((v) => v.version) } });
    }
    const stored = await this.store.read(model);
    if (stored && referencedVersions(stored.policy).includes(version)) {
      throw new InferqError('VERSION_IN_USE', `the routing policy of ${model} still uses version ${version}; change it first`, { details: { version, weights: stored.policy.weights, shadow: stored.policy.shadow ?? null, fallback: stored.policy.fallback ?? null } });
    }
    catalog.markUnloaded(model, version);
    await redis.multi().sadd(keys.unloading(model), version).publish(keys.modelsChangedChannel(), encodeModelsChanged({ model, version, state: 'unloading' })).exec();
    logger.info({ model, version }, 'model version unloading: workers drain its jobs, then drop it');
  }

  guardrails(policy: RoutingPolicy): Guardrails {
    return effectiveGuardrails(policy, defaultGuardrails(this.options.config));
  }

  /** Policy, per-version health over the window, shadow comparisons and recent events. */
  async status(model: string) {
    const { redis, keys, catalog, config } = this.options;
    const stored = this.policy(model);
    const versions = catalog.get(model).versions.filter((v) => v.state === 'available').map((v) => v.version);
    const [health, shadow, events] = await Promise.all([
      readHealth(redis, keys, model, versions, config.healthWindowSeconds * 1000),
      readShadowLog(redis, keys, model),
      this.store.events(model),
    ]);
    const roles = stableAndCanaries(stored.policy);
    return {
      model,
      revision: stored.revision,
      source: stored.source,
      updated_at: stored.revision > 0 ? stored.updated_at : null,
      weights: stored.policy.weights,
      shadow: stored.policy.shadow ?? null,
      fallback: stored.policy.fallback ?? null,
      stable: roles?.stable ?? Object.keys(stored.policy.weights)[0] ?? null,
      canaries: roles?.canaries ?? [],
      guardrails: this.guardrails(stored.policy),
      health: { window_seconds: config.healthWindowSeconds, versions: Object.fromEntries(health) },
      shadow_comparisons: summarizeShadow(shadow),
      events,
    };
  }

  close(): void {
    this.cache.close();
    this.monitor?.close();
  }
}

function defaultGuardrails(config: Config): Guardrails {
  return {
    enabled: true,
    min_samples: config.guardrailMinSamples,
    max_p95_inference_delta_ms: config.guardrailMaxP95DeltaMs,
    max_error_rate_ratio: config.guardrailMaxErrorRatio,
    min_error_rate: config.guardrailMinErrorRate,
    min_labelled: config.guardrailMinLabelled,
    max_accuracy_drop: null,
  };
}

/**
 * Seeds each model's policy from `models/<name>/routing.json` when Redis holds none yet (an
 * operator's or a guardrail's later change is never overwritten by a restart). Models without
 * the file keep the default policy: 100 % to the newest available version.
 */
async function seedPolicies(store: PolicyStore, catalog: ModelCatalog, modelDir: string, logger: Logger): Promise<void> {
  for (const model of catalog.names()) {
    const file = path.join(modelDir, model, 'routing.json');
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch {
      continue;
    }
    const parsed = routingPolicySchema.safeParse(JSON.parse(text));
    if (!parsed.success) {
      logger.error({ model, file, issues: parsed.error.issues }, 'routing.json is invalid; the model keeps its stored or default policy');
      continue;
    }
    const unknown = referencedVersions(parsed.data).filter((v) => !catalog.isAvailable(model, v));
    if (unknown.length > 0) {
      logger.error({ model, file, versions: unknown }, 'routing.json names versions that are not available; the model keeps its stored or default policy');
      continue;
    }
    const revision = await store.write(model, parsed.data, 'repository', { type: 'seeded', weights: parsed.data.weights }, 'absent');
    if (revision !== undefined) logger.info({ model, weights: parsed.data.weights }, 'routing policy seeded from routing.json');
  }
}

import { InferqError } from '@inferq/core/errors';
import type { Keyspace } from '@inferq/core/keyspace';
import type { ModelManifest } from '@inferq/inference/manifest';
import type { JobStore } from '@inferq/jobs/job-store';
import type { ModelCatalog } from './model-catalog.ts';

export interface AdmissionOptions {
  store: JobStore;
  keys: Keyspace;
  catalog: ModelCatalog;
  /** Default per-model depth limit (a manifest's max_queue_depth overrides it). */
  maxQueueDepth: number;
  /** Order jobs fairly between tenants (a backlog counter per tenant, counted in the same call as the queue depth). */
  fair: boolean;
  /** How long a queue-depth reading is reused. Default: 250 ms. */
  depthCacheMs?: number;
}

/** Priority classes: 1 (most urgent) to 9. Batch chunks run behind all of them (BATCH_CHUNK_PRIORITY). */
export const DEFAULT_PRIORITY = 5;
/** Room in each class for a tenant's backlog: BullMQ priorities stop at 2^21. */
const CLASS_WIDTH = 200_000;

/**
 * Decides whether a job may enter its model's queue, and where. A queue at its depth limit
 * answers 429 with a Retry-After from how fast the workers drain it. Within a priority class,
 * a job's place grows with how many jobs its tenant already has queued for that model, so one
 * tenant's burst of 100k jobs does not starve another tenant's single job.
 */
export class Admission {
  private readonly depths = new Map<string, { depth: number; at: number }>();

  constructor(private readonly options: AdmissionOptions) {}

  async checkDepth(model: string, manifest: ModelManifest): Promise<void> {
    const limit = manifest.max_queue_depth ?? this.options.maxQueueDepth;
    const depth = await this.depth(model);
    if (depth < limit) return;
    const drainPerSecond = await this.drainRate(model);
    // Long enough for a tenth of the limit to drain, between 1 s and a minute.
    const retryAfterSeconds = drainPerSecond > 0 ? Math.min(60, Math.max(1, Math.ceil((depth - limit * 0.9) / drainPerSecond))) : 30;
    throw new InferqError('QUEUE_FULL', `model ${model} has ${depth} jobs queued (limit ${limit})`, {
      retryAfterSeconds,
      details: { depth, limit, drain_per_second: Math.round(drainPerSecond * 10) / 10 },
    });
  }

  /**
   * Counts `count` requests of one tenant, model and class in as they are queued (one Redis
   * call), and returns the BullMQ priority of the bundle that carries them and the counters they
   * are in, which the worker decrements when it takes the bundle. Within a class, with fair
   * ordering, the place grows with the tenant's backlog.
   */
  async admit(model: string, tenant: string, priorityClass: number, count: number): Promise<{ priority: number; counters: string[] }> {
    const base = (priorityClass - 1) * CLASS_WIDTH + 1;
    const counters = [this.options.keys.queuedRequests(model)];
    if (this.options.fair) counters.push(this.options.keys.tenantBacklog(model, tenant));
    const values = await this.options.store.countIn(counters, count);
    const backlogBefore = this.options.fair ? Math.max(0, (values[1] ?? count) - count) : 0;
    return { priority: base + Math.min(backlogBefore, CLASS_WIDTH - 1), counters };
  }

  /** Takes back the count of requests that never reached the queue. */
  async release(counters: string[], count: number): Promise<void> {
    await this.options.store.uncount(counters, count);
  }

  /** Requests queued for the model (a bundle counts each of its requests), read at most every depthCacheMs. */
  private async depth(model: string): Promise<number> {
    const cached = this.depths.get(model);
    if (cached && Date.now() - cached.at < (this.options.depthCacheMs ?? 250)) return cached.depth;
    const depth = await this.options.store.queuedRequests(model);
    this.depths.set(model, { depth, at: Date.now() });
    return depth;
  }

  /** Jobs per second the live workers report finishing for this model. */
  private async drainRate(model: string): Promise<number> {
    const reports = await this.options.catalog.workerReports();
    let rate = 0;
    for (const [key, versions] of reports) {
      if (!key.startsWith(`${model}/`)) continue;
      for (const v of versions) rate += v.jobs_per_second ?? 0;
    }
    return rate;
  }
}

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

interface DepthReading {
  depth: number;
  at: number;
  /** Requests this process let in since the reading. */
  since: number;
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
  /** Per model: the last reading of its depth, and the requests this process let in since. */
  private readonly depths = new Map<string, DepthReading>();
  private readonly readings = new Map<string, Promise<DepthReading>>();

  constructor(private readonly options: AdmissionOptions) {}

  async checkDepth(model: string, manifest: ModelManifest): Promise<void> {
    const limit = manifest.max_queue_depth ?? this.options.maxQueueDepth;
    const reading = await this.reading(model);
    const depth = reading.depth + reading.since;
    if (depth < limit) {
      // Counted at once, so the requests checked before the next reading cannot overshoot the
      // limit by a whole cache window; one that then fails is over-counted only until that reading.
      reading.since += 1;
      return;
    }
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

  /**
   * Requests queued for the model (a bundle counts each of its requests), read at most every
   * depthCacheMs (one read at a time), with the count of those this process let in since.
   */
  private reading(model: string): DepthReading | Promise<DepthReading> {
    const cached = this.depths.get(model);
    if (cached && Date.now() - cached.at < (this.options.depthCacheMs ?? 250)) return cached;
    let pending = this.readings.get(model);
    if (!pending) {
      pending = this.options.store.queuedRequests(model).then(
        (depth) => {
          const reading = { depth, at: Date.now(), since: 0 };
          this.depths.set(model, reading);
          this.readings.delete(model);
          return reading;
        },
        (error: unknown) => {
          this.readings.delete(model);
          throw error;
        },
      );
      this.readings.set(model, pending);
    }
    return pending;
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

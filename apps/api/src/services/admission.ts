import type { Queue } from 'bullmq';
import { InferqError } from '@inferq/core/errors';
import type { QueuePayload } from '@inferq/core/job-types';
import type { Keyspace } from '@inferq/core/keyspace';
import type { Redis } from '@inferq/core/redis-connection';
import type { ModelManifest } from '@inferq/inference/manifest';
import type { ModelCatalog } from './model-catalog.ts';

export interface AdmissionOptions {
  redis: Redis;
  keys: Keyspace;
  catalog: ModelCatalog;
  queues: Map<string, Queue<QueuePayload>>;
  /** Default per-model depth limit (a manifest's max_queue_depth overrides it). */
  maxQueueDepth: number;
  /** Order jobs fairly between tenants (needs one Redis round trip per submit). Default: true. */
  fair: boolean;
  /** How long a queue-depth reading is reused. Default: 250 ms. */
  depthCacheMs?: number;
}

/** Priority classes: 1 (most urgent) to 9. Batch chunks run behind all of them (BATCH_CHUNK_PRIORITY). */
export const DEFAULT_PRIORITY = 5;
/** Room in each class for a tenant's backlog: BullMQ priorities stop at 2^21. */
const CLASS_WIDTH = 200_000;

const COUNT_IN = `
local n = redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], 3600000)
return n`;

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
   * BullMQ priorities for `count` jobs of one tenant, model and class, and the backlog counter
   * they were counted in (decremented as each ends). One Redis call, whatever the count.
   */
  async placements(model: string, tenant: string, priorityClass: number, count: number): Promise<{ priority: number; backlogKey?: string }[]> {
    const base = (priorityClass - 1) * CLASS_WIDTH + 1;
    if (!this.options.fair) return Array.from({ length: count }, () => ({ priority: base }));
    const backlogKey = this.options.keys.tenantBacklog(model, tenant);
    const after = (await this.options.redis.eval(COUNT_IN, 1, backlogKey, count)) as number;
    return Array.from({ length: count }, (_, i) => ({ priority: base + Math.min(Math.max(0, after - count + i), CLASS_WIDTH - 1), backlogKey }));
  }

  private async depth(model: string): Promise<number> {
    const cached = this.depths.get(model);
    if (cached && Date.now() - cached.at < (this.options.depthCacheMs ?? 250)) return cached.depth;
    const queue = this.options.queues.get(model) as Queue<QueuePayload>;
    const counts = await queue.getJobCounts('waiting', 'prioritized', 'delayed');
    const depth = (counts.waiting ?? 0) + (counts.prioritized ?? 0) + (counts.delayed ?? 0);
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

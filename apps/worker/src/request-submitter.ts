import type { JobsOptions } from 'bullmq';
import { MAX_BUNDLE_REQUESTS, newBundleId, requestId } from '@inferq/core/job-id';
import type { BundledRequest, BundlePayload, QueuePayload } from '@inferq/core/job-types';
import type { Keyspace } from '@inferq/core/keyspace';
import type { Redis } from '@inferq/core/redis-connection';
import type { JobStore } from '@inferq/jobs/job-store';
import { ModelQueues } from './model-queues.ts';

export interface RequestSubmitterOptions {
  producer: Redis;
  keys: Keyspace;
  store: JobStore;
  /** Attempts per bundle for infrastructure failures, as for the API's bundles. */
  attempts: number;
  /** Most payload bytes in one bundle (INFERQ_BUNDLE_MAX_BYTES). */
  maxBundleBytes: number;
}

/** What an image request queued from inside inferq carries besides its image. */
export interface ImageRequestOptions {
  model: string;
  version: string;
  tenant: string;
  /** BullMQ priority of the bundles (a pipeline's stages inherit their page's). */
  priority: number;
  ttlMs: number;
  /** Most requests in one bundle: the model's max_batch_size. */
  maxPerBundle: number;
  metadata?: Record<string, unknown>;
}

/**
 * Queues image requests from inside a worker (a pipeline's stages, a schedule's images) exactly
 * as the API queues them: bundles of requests (BundlePayload) on the model's own queue, counted
 * in the model's queued requests, so they batch with, and are admitted and measured like, every
 * other request for that model. Returns the request ids, in order.
 */
export class RequestSubmitter {
  private readonly queues: ModelQueues;

  constructor(private readonly options: RequestSubmitterOptions) {
    this.queues = new ModelQueues(options.producer, options.keys);
  }

  /**
   * The ids the requests will have, before anything is queued (so their completions can be
   * awaited first), and `send`, which queues them in one round trip.
   */
  prepare(images: readonly string[], options: ImageRequestOptions): { ids: string[]; send(): Promise<void> } {
    const createdAt = Date.now();
    const bundles: { id: string; requests: BundledRequest[]; bytes: number }[] = [];
    const limit = Math.max(1, Math.min(options.maxPerBundle, MAX_BUNDLE_REQUESTS));
    for (const image of images) {
      let bundle = bundles.at(-1);
      if (!bundle || bundle.requests.length >= limit || bundle.bytes + image.length > this.options.maxBundleBytes) {
        bundle = { id: newBundleId(options.model, options.tenant), requests: [], bytes: 0 };
        bundles.push(bundle);
      }
      bundle.requests.push({
        id: requestId(bundle.id, bundle.requests.length),
        inputs: [],
        image,
        response: 'prediction',
        ttl_ms: options.ttlMs,
        created_at: createdAt,
        tenant: options.tenant,
        routed_by: 'pinned',
        ...(options.metadata ? { metadata: options.metadata } : {}),
      });
      bundle.bytes += image.length + 256;
    }
    const send = async () => {
      if (bundles.length === 0) return;
      const counter = this.options.keys.queuedRequests(options.model);
      await this.options.store.countIn([counter], images.length);
      const opts = (id: string): JobsOptions => ({ jobId: id, timestamp: createdAt, priority: options.priority, attempts: this.options.attempts, backoff: { type: 'exponential', delay: 500 }, removeOnComplete: true, removeOnFail: true });
      const entries = bundles.map((b) => ({ name: options.version, data: { kind: 'bundle', requests: b.requests, counted_in: [counter] } satisfies BundlePayload as QueuePayload, opts: opts(b.id) }));
      try {
        await this.queues.get(options.model).addBulk(entries);
      } catch (error) {
        await this.options.store.uncount([counter], images.length).catch(() => undefined);
        throw error;
      }
    };
    return { ids: bundles.flatMap((b) => b.requests.map((r) => r.id)), send };
  }

  close(): Promise<void> {
    return this.queues.close();
  }
}

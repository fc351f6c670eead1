import type { Queue } from 'bullmq';
import { chunkJobId } from '@inferq/batch/batch-ingestor';
import type { BatchView } from '@inferq/batch/batch-record';
import { isBatchFinal, toBatchView, type BatchStore } from '@inferq/batch/batch-store';
import { submitBatch } from '@inferq/batch/batch-submitter';
import type { RowBlocks } from '@inferq/batch/row-sources';
import type { Config } from '@inferq/core/config';
import { InferqError } from '@inferq/core/errors';
import { BATCH_ID_PATTERN } from '@inferq/core/job-id';
import type { ChunkPayload, QueuePayload, WebhookSubscription } from '@inferq/core/job-types';
import { assertWebhookUrl } from '@inferq/webhooks/ssrf-guard';
import type { WebhookProducer } from '@inferq/webhooks/webhook-service';
import { guardRedis } from '@inferq/core/redis-connection';
import type { ModelManifest } from '@inferq/inference/manifest';
import type { CompletionListener } from './completion-listener.ts';
import type { ModelCatalog } from './model-catalog.ts';
import type { RoutingService } from '../routing/routing-service.ts';

export interface BatchServiceDeps {
  config: Config;
  store: BatchStore;
  catalog: ModelCatalog;
  /** Picks the policy's stable version for batches that name none (absent: the newest available). */
  routing?: Pick<RoutingService, 'batchVersion'>;
  queues: Map<string, Queue<QueuePayload>>;
  completions: CompletionListener;
  webhooks: WebhookProducer;
}

export interface BatchRequest {
  model: string;
  version?: string | undefined;
  ttl_seconds?: number | undefined;
  webhook?: WebhookSubscription | undefined;
}

/** A batch webhook with no filter hears the batch's own events (a job's would hear job.* ones). */
const BATCH_DEFAULT_EVENTS = ['batch.progress', 'batch.completed'];

/** Batch scoring: ingest a stream of rows into chunk jobs, report progress, stream results in input order, cancel. */
export class BatchService {
  constructor(private readonly deps: BatchServiceDeps) {}

  async submit(request: BatchRequest, rows: RowBlocks, tenant: string): Promise<BatchView> {
    const { config } = this.deps;
    const version = this.deps.routing ? this.deps.routing.batchVersion(request.model, request.version) : this.deps.catalog.resolveVersion(request.model, request.version);
    if (version.pipeline) throw new InferqError('IMAGE_REQUIRED', `${request.model} is a pipeline: it scores page images, not rows (inferq batch submit --input <folder of images>)`);
    if (request.webhook) assertWebhookUrl(request.webhook.url, this.deps.webhooks.policy);
    const batchId = await submitBatch(
      {
        queue: this.deps.queues.get(request.model) as Queue<QueuePayload>,
        store: this.deps.store,
        model: request.model,
        version: version.version,
        tenant,
        manifest: version.manifest as ModelManifest,
        ttlMs: (request.ttl_seconds ?? config.resultTtlSeconds) * 1000,
        chunkRows: config.batchChunkRows,
        attempts: config.jobAttempts,
        webhook: request.webhook && { url: request.webhook.url, events: request.webhook.events ?? BATCH_DEFAULT_EVENTS },
      },
      rows,
    );
    return this.get(batchId, tenant);
  }

  async get(batchId: string, tenant: string): Promise<BatchView> {
    return this.read(batchId, tenant);
  }

  /** Holds until the batch ends or `waitMs` passes; `declined` as for jobs (too many held). */
  async waitFor(batchId: string, tenant: string, waitMs: number, signal?: AbortSignal): Promise<{ view: BatchView; declined: boolean }> {
    let view = await this.read(batchId, tenant);
    if (waitMs <= 0 || isBatchFinal(view.status)) return { view, declined: false };
    const listening = this.deps.completions.listen(view.model);
    if (listening) await guardRedis(() => listening);
    const waiter = this.deps.completions.waitFor(batchId, waitMs, signal);
    if (!waiter) return { view, declined: true };
    try {
      view = await this.read(batchId, tenant);
      if (isBatchFinal(view.status)) return { view, declined: false };
      await waiter.done;
    } finally {
      waiter.cancel();
    }
    return { view: await this.read(batchId, tenant), declined: false };
  }

  /** Another tenant's batch is answered exactly like one that does not exist. */
  private async read(batchId: string, tenant: string): Promise<BatchView> {
    if (!BATCH_ID_PATTERN.test(batchId)) throw notFound(batchId);
    const hash = await guardRedis(() => this.deps.store.read(batchId));
    if (!hash || hash.tenant !== tenant) throw notFound(batchId);
    return toBatchView(batchId, hash);
  }

  /** The result lines, in input order, chunk by chunk: never the whole file in memory. */
  async results(batchId: string, tenant: string): Promise<AsyncIterable<Buffer>> {
    const view = await this.read(batchId, tenant);
    if (!isBatchFinal(view.status)) {
      throw new InferqError('BATCH_NOT_FINISHED', `the batch is ${view.status} (${view.percent} %)`, { details: { status: view.status, percent: view.percent }, retryAfterSeconds: 2 });
    }
    return this.deps.store.resultLines(batchId);
  }

  /** Removes the chunks no worker has taken; their rows report CANCELED. Running chunks finish. */
  async cancel(batchId: string, tenant: string): Promise<BatchView> {
    const view = await this.read(batchId, tenant);
    if (view.status === 'receiving' || isBatchFinal(view.status)) {
      throw new InferqError('BATCH_NOT_CANCELABLE', `the batch is ${view.status}`, { details: { status: view.status } });
    }
    const { store } = this.deps;
    const queue = this.deps.queues.get(view.model) as Queue<QueuePayload>;
    const hash = await store.read(batchId);
    await store.requestCancel(batchId);
    for (let chunk = 0; chunk < Number(hash?.chunks_total ?? 0); chunk++) {
      const job = await queue.getJob(chunkJobId(batchId, chunk));
      if (!job || job.processedOn) continue;
      try {
        await job.remove();
      } catch {
        continue; // taken by a worker meanwhile: it finishes
      }
      const data = job.data as ChunkPayload;
      const lines = Array.from({ length: data.count }, (_, offset) => {
        const id = data.ids?.[offset];
        return JSON.stringify({ row: data.first_row + offset, ...(id === undefined || id === null ? {} : { id }), error: new InferqError('CANCELED').toBody() });
      });
      await store.recordChunk(batchId, chunk, `${lines.join('\n')}\n`, data.ttl_ms, { succeeded: 0, failed: 0, canceled: data.count });
    }
    return this.read(batchId, tenant);
  }
}

function notFound(batchId: string): InferqError {
  return new InferqError('BATCH_NOT_FOUND', `no batch ${batchId}: it never existed, or its results expired`, { details: { batch_id: batchId } });
}

import type { Queue } from 'bullmq';
import { InferqError } from '@inferq/core/errors';
import { newBatchId } from '@inferq/core/job-id';
import type { QueuePayload, WebhookSubscription } from '@inferq/core/job-types';
import { isRedisUnavailableError, redisUnavailable } from '@inferq/core/redis-connection';
import type { ModelManifest } from '@inferq/inference/manifest';
import { BatchIngestor } from './batch-ingestor.ts';
import type { BatchStore } from './batch-store.ts';
import type { RowBlocks } from './row-sources.ts';

/**
 * Single jobs take BullMQ priorities 1 .. 1,800,000 (nine classes, see the API's admission);
 * chunks come after all of them.
 */
export const BATCH_CHUNK_PRIORITY = 1_900_000;

export interface SubmitBatchOptions {
  queue: Queue<QueuePayload>;
  store: BatchStore;
  model: string;
  version: string;
  tenant: string;
  manifest: ModelManifest;
  ttlMs: number;
  chunkRows: number;
  attempts: number;
  /** Told of batch.progress and batch.completed. */
  webhook?: WebhookSubscription | undefined;
  /** Called once the batch exists, before its first row is read (a schedule tick remembers it). */
  onCreated?: (batchId: string) => Promise<void>;
}

/**
 * Creates a batch and streams its rows into chunk jobs; the one path for API uploads and
 * scheduled runs alike. A failure part-way marks the batch failed (with the reason) and rethrows.
 */
export async function submitBatch(options: SubmitBatchOptions, rows: RowBlocks): Promise<string> {
  const { store } = options;
  const batchId = newBatchId(options.model);
  try {
    await store.create(batchId, { model: options.model, version: options.version, tenant: options.tenant, ttlMs: options.ttlMs, createdAt: Date.now(), ...(options.webhook ? { webhook: options.webhook } : {}) });
  } catch (error) {
    throw isRedisUnavailableError(error) ? redisUnavailable(error) : error;
  }
  await options.onCreated?.(batchId);
  const ingestor = new BatchIngestor({
    queue: options.queue,
    store,
    manifest: options.manifest,
    version: options.version,
    chunkRows: options.chunkRows,
    attempts: options.attempts,
    priority: BATCH_CHUNK_PRIORITY,
    tenant: options.tenant,
  });
  try {
    const { total, chunks } = await ingestor.ingest(batchId, rows, options.ttlMs);
    await store.closeIngest(batchId, total, chunks);
  } catch (error) {
    const failure = error instanceof InferqError ? error : isRedisUnavailableError(error) ? redisUnavailable(error) : new InferqError('INTERNAL', (error as Error).message);
    await store.failIngest(batchId, failure.toBody()).catch(() => undefined);
    throw failure;
  }
  return batchId;
}

import type { Queue } from 'bullmq';
import { InferqError, type ErrorBody } from '@inferq/core/errors';
import type { ChunkPayload, QueuePayload } from '@inferq/core/job-types';
import type { WireTensor } from '@inferq/core/tensor';
import { validateModelInput, type FeatureRow, type RequestTensor } from '@inferq/inference/input-validation';
import type { ModelManifest } from '@inferq/inference/manifest';
import { packTensor } from '@inferq/inference/tensor-codec';
import type { BatchStore } from './batch-store.ts';
import type { RowBlocks } from './row-sources.ts';

export interface BatchIngestorOptions {
  queue: Queue<QueuePayload>;
  store: BatchStore;
  manifest: ModelManifest;
  version: string;
  /** Rows per chunk (one queue job each). */
  chunkRows: number;
  /** Attempts per chunk for infrastructure failures. */
  attempts: number;
  /** Chunks being added to the queue at once while rows keep streaming in. Default: 8. */
  maxPendingAdds?: number;
  /** BullMQ priority of chunk jobs: behind every single job, so a big file never delays online traffic. */
  priority?: number;
  /** The batch's tenant, carried by each chunk for the prediction log. */
  tenant?: string;
}

interface OpenChunk {
  firstRow: number;
  count: number;
  signature: string | undefined;
  tensors: Map<string, { datatype: WireTensor['datatype']; rest: number[]; data: number[] }>;
  validRows: number;
  ids: (string | number | null)[];
  hasIds: boolean;
  errors: Record<number, ErrorBody>;
}

export const chunkJobId = (batchId: string, chunk: number) => `${batchId}-${chunk}`;

/**
 * A bad row's error line. Each row is validated alone, as a one-row request, so a `details.row`
 * the validator gives counts within that request (always 0): it is replaced by the row's place in
 * the batch, the same number as the line's own `row`.
 */
function errorOf(error: unknown, row: number): ErrorBody {
  if (!(error instanceof InferqError)) return { code: 'INVALID_REQUEST', message: (error as Error).message };
  const body = error.toBody();
  return body.details && 'row' in body.details ? { ...body, details: { ...body.details, row } } : body;
}

/**
 * Streams a batch's rows into chunk jobs. Each row is validated on its own: a bad row becomes an
 * error line in its place and never stops the others. Rows are never all held in memory: a chunk
 * is enqueued as soon as it is full, with a bounded number of adds in flight.
 */
export class BatchIngestor {
  constructor(private readonly options: BatchIngestorOptions) {}

  async ingest(batchId: string, blocks: RowBlocks, ttlMs: number): Promise<{ total: number; chunks: number }> {
    const pending = new Set<Promise<unknown>>();
    const maxPending = this.options.maxPendingAdds ?? 8;
    let chunkIndex = 0;
    let total = 0;
    let open = this.newChunk(0);

    const flush = async () => {
      if (open.count === 0) return;
      const payload = this.toPayload(batchId, chunkIndex, open, ttlMs);
      const add = this.options.queue.add(this.options.version, payload, {
        jobId: chunkJobId(batchId, chunkIndex),
        ...(this.options.priority ? { priority: this.options.priority } : {}),
        attempts: this.options.attempts,
        backoff: { type: 'exponential', delay: 500 },
        removeOnComplete: true,
        removeOnFail: true,
      });
      chunkIndex++;
      open = this.newChunk(total);
      pending.add(add);
      void add.finally(() => pending.delete(add)).catch(() => undefined);
      if (pending.size >= maxPending) await Promise.race(pending);
    };

    for await (const block of blocks) {
      for (const row of block) {
        if ('error' in row) {
          open.errors[open.count] = row.error.toBody();
          this.pushId(open, undefined);
        } else {
          const id = row.value.id;
          try {
            const validated = this.validate(row.value);
            const signature = validated.map((t) => `${t.name}:${t.shape.slice(1).join('x')}`).join('|');
            // Rows of another shape cannot share a tensor: they start a chunk of their own.
            if (open.signature !== undefined && open.signature !== signature) await flush();
            this.append(open, validated, signature);
          } catch (error) {
            open.errors[open.count] = errorOf(error, total);
          }
          this.pushId(open, typeof id === 'string' || typeof id === 'number' ? id : undefined);
        }
        open.count++;
        total++;
        if (open.count >= this.options.chunkRows) await flush();
      }
    }
    await flush();
    await Promise.all(pending);
    return { total, chunks: chunkIndex };
  }

  private validate(value: Record<string, unknown>): WireTensor[] {
    if ('image' in value) throw new InferqError('IMAGE_NOT_SUPPORTED', 'batch rows carry features or tensors, not images');
    return validateModelInput(this.options.manifest, { inputs: value.inputs as RequestTensor[] | undefined, features: value.features as FeatureRow | undefined }, 1).inputs;
  }

  private newChunk(firstRow: number): OpenChunk {
    return { firstRow, count: 0, signature: undefined, tensors: new Map(), validRows: 0, ids: [], hasIds: false, errors: {} };
  }

  private pushId(chunk: OpenChunk, id: string | number | undefined): void {
    chunk.ids.push(id ?? null);
    if (id !== undefined) chunk.hasIds = true;
  }

  private append(chunk: OpenChunk, tensors: WireTensor[], signature: string): void {
    chunk.signature = signature;
    for (const t of tensors) {
      let acc = chunk.tensors.get(t.name);
      if (!acc) {
        acc = { datatype: t.datatype, rest: t.shape.slice(1), data: [] };
        chunk.tensors.set(t.name, acc);
      }
      for (let i = 0; i < t.data.length; i++) acc.data.push(t.data[i] as number);
    }
    chunk.validRows++;
  }

  private toPayload(batchId: string, index: number, chunk: OpenChunk, ttlMs: number): ChunkPayload {
    return {
      kind: 'chunk',
      batch_id: batchId,
      chunk: index,
      first_row: chunk.firstRow,
      count: chunk.count,
      inputs: [...chunk.tensors].map(([name, t]) => packTensor({ name, datatype: t.datatype, shape: [chunk.validRows, ...t.rest], data: t.data })),
      ...(chunk.hasIds ? { ids: chunk.ids } : {}),
      ...(Object.keys(chunk.errors).length > 0 ? { errors: chunk.errors } : {}),
      ttl_ms: ttlMs,
      ...(this.options.tenant !== undefined ? { tenant: this.options.tenant } : {}),
    };
  }
}

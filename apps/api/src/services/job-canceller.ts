import type { Queue } from 'bullmq';
import type { ParsedJobId } from '@inferq/core/job-id';
import type { FinishedJobRecord, QueuePayload } from '@inferq/core/job-types';
import { guardRedis } from '@inferq/core/redis-connection';
import { finishedRecord } from '@inferq/jobs/finished-record';
import type { JobStore } from '@inferq/jobs/job-store';
import { jobPredictionEntry } from '@inferq/jobs/prediction-entry';
import type { WebhookProducer } from '@inferq/webhooks/webhook-service';
import type { Admission } from './admission.ts';
import { notCancelable, notFound } from './job-errors.ts';
import type { ModelCatalog } from './model-catalog.ts';

export interface JobCancellerDeps {
  store: JobStore;
  queues: Map<string, Queue<QueuePayload>>;
  admission: Admission;
  webhooks: WebhookProducer;
  metrics?: { jobCanceled(model: string, version: string): void };
  /** Log canceled requests to the prediction log (INFERQ_PREDICTION_LOG); the catalog gives their manifest. */
  predictionLog?: boolean;
  catalog: Pick<ModelCatalog, 'get'>;
}

/**
 * Cancels a queued or running request: its canceled record is stored at once (only if it has no
 * record yet), so GET says `canceled` from then on, and the worker drops the request's outcome
 * unannounced when its batch ends. A queued bundle whose requests are now all canceled leaves the
 * queue, so no worker takes it for nothing.
 */
export class JobCanceller {
  constructor(private readonly deps: JobCancellerDeps) {}

  /** `id` must already be checked to be the tenant's. */
  async cancel(id: ParsedJobId & { jobId: string }, tenant: string): Promise<FinishedJobRecord> {
    const { store } = this.deps;
    return guardRedis(async () => {
      const state = await store.readRequest(id);
      if (!state) throw notFound(id.jobId);
      if ('finished' in state) throw notCancelable(this.owned(state.finished, tenant).status);
      const bundled = await store.readBundledRequest(id);
      if (!bundled) {
        // The bundle finished between the two reads.
        const finished = await store.readFinished(id.jobId);
        if (finished) throw notCancelable(this.owned(finished, tenant).status);
        throw notFound(id.jobId);
      }
      const { request, version, bundle } = bundled;
      const write = finishedRecord(
        {
          jobId: id.jobId,
          status: 'canceled',
          model: id.model,
          version,
          createdAt: request.created_at,
          startedAt: state.pending.startedAt ?? null,
          ...(request.metadata ? { metadata: request.metadata } : {}),
          tenant,
        },
        request.ttl_ms,
      );
      const manifest = this.deps.catalog.get(id.model).versions.find((v) => v.version === version)?.manifest;
      const log = this.deps.predictionLog ? jobPredictionEntry(write.record, request, manifest) : undefined;
      const [placed] = await store.writeFinished([{ ...write, log }]);
      if (!placed) throw notCancelable((await store.readFinished(id.jobId))?.status ?? 'succeeded');
      if (state.pending.startedAt === undefined && (await store.allFinished(bundle.requests.map((r) => r.id)))) {
        const removed = await this.deps.queues.get(id.model)?.remove(id.bundleId).catch(() => 0);
        if (removed === 1) await this.deps.admission.release(bundle.counted_in ?? [], bundle.requests.length);
      }
      // The worker drops this request's outcome unannounced, so its job.canceled event is queued here.
      if (request.webhook) await this.deps.webhooks.announce([{ record: write.record, webhook: request.webhook }]);
      this.deps.metrics?.jobCanceled(write.record.model, write.record.model_version);
      return write.record;
    });
  }

  private owned(record: FinishedJobRecord, tenant: string): FinishedJobRecord {
    if (record.tenant !== undefined && record.tenant !== tenant) throw notFound(record.job_id);
    return record;
  }
}

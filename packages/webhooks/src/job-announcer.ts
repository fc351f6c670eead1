import type { FinishedJobRecord, WebhookSubscription } from '@inferq/core/job-types';
import type { Logger } from '@inferq/core/logger';
import type { WebhookDispatcher } from './dispatcher.ts';

/**
 * The worker's hook after a flush of results: queues the deliveries of the jobs that named a
 * webhook. A failure is logged, not thrown: the results are stored and the jobs are done, and
 * failing them would re-run inference for the sake of a notification.
 */
export function announceFinishedJobs(dispatcher: WebhookDispatcher, logger: Logger) {
  return async (written: readonly { record: FinishedJobRecord; webhook?: WebhookSubscription }[]): Promise<void> => {
    const items = written.flatMap(({ record, webhook }) => (webhook ? [{ record, subscription: webhook }] : []));
    if (items.length === 0) return;
    try {
      await dispatcher.jobsFinished(items);
    } catch (error) {
      logger.error({ err: error, job_ids: items.map((i) => i.record.job_id) }, 'could not queue webhook deliveries');
    }
  };
}

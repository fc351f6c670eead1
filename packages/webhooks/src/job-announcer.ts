import type { FinishedJobRecord, WebhookSubscription } from '@inferq/core/job-types';
import type { Logger } from '@inferq/core/logger';
import { isRedisOutOfMemoryError } from '@inferq/core/redis-connection';
import type { WebhookDispatcher } from './dispatcher.ts';

/** How long an announcement waits for Redis to have memory again before it is given up (logged). */
const OUT_OF_MEMORY_WAIT_MS = 120_000;

/**
 * The worker's hook after a flush of results: queues the deliveries of the jobs that named a
 * webhook. A failure is logged, not thrown: the results are stored and the jobs are done, and
 * failing them would re-run inference for the sake of a notification.
 */
export function announceFinishedJobs(dispatcher: WebhookDispatcher, logger: Logger) {
  return async (written: readonly { record: FinishedJobRecord; webhook?: WebhookSubscription }[]): Promise<void> => {
    const items = written.flatMap(({ record, webhook }) => (webhook ? [{ record, subscription: webhook }] : []));
    if (items.length === 0) return;
    // Redis at maxmemory refuses the deliveries' queue add: wait for memory (the bundle holds its
    // lock meanwhile) rather than drop the announcement.
    const deadline = Date.now() + OUT_OF_MEMORY_WAIT_MS;
    for (;;) {
      try {
        await dispatcher.jobsFinished(items);
        return;
      } catch (error) {
        if (isRedisOutOfMemoryError(error) && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 500));
          continue;
        }
        logger.error({ err: error, job_ids: items.map((i) => i.record.job_id) }, 'could not queue webhook deliveries');
        return;
      }
    }
  };
}

import { toBatchView, type BatchEventListener } from '@inferq/batch/batch-store';
import type { WebhookSubscription } from '@inferq/core/job-types';
import type { Logger } from '@inferq/core/logger';
import type { WebhookDispatcher } from './dispatcher.ts';

/**
 * Sends a batch's events to its webhook, with the batch as `GET /v1/batches/{id}` shows it.
 * Failures are logged, never thrown: scoring must not stop because a receiver is unreachable.
 */
export function announceBatchEvents(dispatcher: WebhookDispatcher, logger: Logger): BatchEventListener {
  return async (batchId, event, hash) => {
    try {
      if (!hash.webhook) return;
      const subscription = JSON.parse(hash.webhook) as WebhookSubscription;
      const view = toBatchView(batchId, hash);
      await dispatcher.publish(
        [{ ownerId: batchId, type: event, timestamp: new Date().toISOString(), data: view, subscription, expiresAtMs: Date.now() + Math.max(hash.ttlRemainingMs, Number(hash.ttl_ms)) }],
        { rememberSubscriptions: event === 'batch.completed' },
      );
    } catch (error) {
      logger.warn({ batch_id: batchId, event, err: error }, 'could not announce a batch event');
    }
  };
}

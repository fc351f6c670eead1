import type { Redis } from '@inferq/core/redis-connection';
import { DeliveryClient } from './delivery-client.ts';
import { DeliveryWorker, type DeliveryMetrics } from './delivery-worker.ts';
import { RetrySchedule } from './retry-schedule.ts';
import { createWebhookProducer, type WebhookProducer, type WebhookServiceDeps } from './webhook-service.ts';

/**
 * A worker process's side: the producer (finished jobs are announced right after their results
 * are written) plus the delivery consumer on its own queue and connection, so slow receivers
 * never hold up inference.
 */
export async function startWebhookDelivery(deps: WebhookServiceDeps & { connection: Redis; metrics?: DeliveryMetrics }): Promise<WebhookProducer> {
  const { config, keys, logger } = deps;
  const producer = await createWebhookProducer(deps);
  const worker = new DeliveryWorker({
    connection: deps.connection,
    keys,
    log: producer.log,
    client: new DeliveryClient({ policy: producer.policy, timeoutMs: config.webhookTimeoutMs }),
    schedule: new RetrySchedule(config.webhookRetrySchedule),
    secrets: producer.secrets,
    logger: logger.child({ component: 'webhooks' }),
    concurrency: config.webhookConcurrency,
    lockDurationMs: config.lockDurationMs,
    stalledIntervalMs: config.stalledIntervalMs,
    ...(deps.metrics ? { metrics: deps.metrics } : {}),
  });
  worker.start();
  return {
    ...producer,
    async close() {
      await worker.close();
      await producer.close();
    },
  };
}

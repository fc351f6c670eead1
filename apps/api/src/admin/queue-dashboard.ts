import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { HonoAdapter } from '@bull-board/hono';
import { serveStatic } from '@hono/node-server/serve-static';
import type { Queue } from 'bullmq';

export const QUEUE_DASHBOARD_PATH = '/admin/queues';

export interface QueueDashboardOptions {
  /** Every model's queue, by model name. */
  modelQueues: ReadonlyMap<string, Queue<any>>;
  webhookQueue: Queue<any>;
  scheduleQueue: Queue<any>;
}

/**
 * bull-board over every queue inferq uses. The returned app is mounted at /admin/queues, behind
 * the admin scope that app.ts puts on /admin/* (its scripts and JSON API included).
 */
export function queueDashboard({ modelQueues, webhookQueue, scheduleQueue }: QueueDashboardOptions) {
  const adapter = new HonoAdapter(serveStatic);
  adapter.setBasePath(QUEUE_DASHBOARD_PATH);
  createBullBoard({
    queues: [
      ...[...modelQueues].map(([model, queue]) => new BullMQAdapter(queue, { displayName: `model: ${model}`, description: `Inference jobs and batch chunks of ${model}` })),
      new BullMQAdapter(webhookQueue, { displayName: 'webhooks', description: 'Webhook deliveries (one job per delivery, retried with backoff)' }),
      new BullMQAdapter(scheduleQueue, { displayName: 'schedules', description: 'Batch schedule ticks (BullMQ job schedulers)' }),
    ],
    serverAdapter: adapter,
    options: { uiConfig: { boardTitle: 'inferq queues', hideDocsLink: true } },
  });
  return adapter.registerPlugin();
}

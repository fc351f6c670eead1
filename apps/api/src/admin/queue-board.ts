import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { HonoAdapter } from '@bull-board/hono';
import { serveStatic } from '@hono/node-server/serve-static';
import type { Queue } from 'bullmq';

export interface QueueDashboardOptions {
  /** Every model's queue, by model name. */
  modelQueues: ReadonlyMap<string, Queue<any>>;
  webhookQueue: Queue<any>;
  scheduleQueue: Queue<any>;
}

/** bull-board itself, served under `basePath`; loaded by queue-dashboard.ts on the dashboard's first request. */
export function queueBoard(basePath: string, { modelQueues, webhookQueue, scheduleQueue }: QueueDashboardOptions) {
  const adapter = new HonoAdapter(serveStatic);
  adapter.setBasePath(basePath);
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

import { Hono } from 'hono';
import { InferqError } from '@inferq/core/errors';
import { guardRedis } from '@inferq/core/redis-connection';
import { jobEventType, subscribesTo } from '@inferq/webhooks/events';
import type { WebhookProducer } from '@inferq/webhooks/webhook-service';
import type { AppEnv } from '../app-env.ts';
import type { JobService } from '../services/job-service.ts';
import { isFinished } from '../services/job-view.ts';

export interface DeliveriesRoutesOptions {
  jobs: JobService;
  webhooks: WebhookProducer;
}

/**
 * A job's webhook delivery log and redelivery, mounted under /v1/jobs. The job must exist (a
 * 404 otherwise, like GET /v1/jobs/{id}); the log lives and expires with the job's result.
 */
export function deliveriesRoutes({ jobs, webhooks }: DeliveriesRoutesOptions) {
  return new Hono<AppEnv>()
    .get('/:id/deliveries', async (c) => {
      const jobId = c.req.param('id');
      await jobs.get(jobId, c.get('principal').tenant);
      const deliveries = await guardRedis(() => webhooks.log.list(jobId));
      return c.json({ job_id: jobId, deliveries }, 200);
    })
    .post('/:id/deliveries/redeliver', async (c) => {
      const jobId = c.req.param('id');
      const view = await jobs.get(jobId, c.get('principal').tenant);
      if (!isFinished(view)) throw new InferqError('JOB_NOT_FINISHED', `the job is ${view.status}: it has no final event yet`, { details: { status: view.status } });
      const event = jobEventType(view.status);
      const subscription = await guardRedis(() => webhooks.log.subscription(jobId));
      if (!subscription) throw new InferqError('WEBHOOK_NOT_CONFIGURED', 'the job names no webhook', { details: { job_id: jobId } });
      if (!subscribesTo(subscription, event)) {
        throw new InferqError('WEBHOOK_NOT_CONFIGURED', `the job's webhook does not subscribe to ${event}`, { details: { event, events: subscription.events } });
      }
      const delivery = await guardRedis(async () => {
        const previous = (await webhooks.log.list(jobId)).filter((d) => d.event === event).at(-1);
        return webhooks.dispatcher.redeliver(view, subscription, previous?.delivery_id);
      });
      return c.json(delivery, 202);
    });
}

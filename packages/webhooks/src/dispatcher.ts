import type { Queue } from 'bullmq';
import type { FinishedJobRecord, WebhookSubscription } from '@inferq/core/job-types';
import { DELIVERY_BACKOFF_TYPE, newDeliveryId, type DeliveryJobData } from './delivery-job.ts';
import { redactUrl, type DeliveryLog, type DeliveryLogEntry, type DeliverySummary } from './delivery-log.ts';
import { jobEventType, subscribesTo, webhookBody, type WebhookEventType } from './events.ts';
import type { RetrySchedule } from './retry-schedule.ts';

export interface WebhookDispatcherOptions {
  /** The webhooks queue (Keyspace.webhookQueue()); a producer connection is enough. */
  queue: Queue<DeliveryJobData>;
  log: DeliveryLog;
  /** Gives the number of attempts and the wait before the first. */
  schedule: RetrySchedule;
}

/** One event for one subscriber. */
export interface WebhookEvent {
  /** The job (or batch) id the delivery log is kept under. */
  ownerId: string;
  type: WebhookEventType;
  /** When the event happened (ISO 8601); the payload's `timestamp`. */
  timestamp: string;
  /** The payload's `data`: for job events, exactly what GET /v1/jobs/{id} returns. */
  data: unknown;
  subscription: WebhookSubscription;
  /** When the delivery log expires (epoch ms): the owner's result expiry. */
  expiresAtMs: number;
  redeliveryOf?: string;
}

/**
 * Turns events into queued deliveries. The log entry is written before the queue job exists, so
 * the delivery worker never races a "pending" summary over a newer one. Enqueueing is one Redis
 * round trip per call (addBulk), whatever the number of events: a batch's finished jobs cost one.
 */
export class WebhookDispatcher {
  constructor(private readonly options: WebhookDispatcherOptions) {}

  /**
   * Announces finished jobs. Every job's subscription is remembered (for redelivery) even when
   * its filter leaves this event out; only subscribed events are delivered.
   */
  async jobsFinished(items: readonly { record: FinishedJobRecord; subscription: WebhookSubscription }[]): Promise<DeliverySummary[]> {
    const events = items.map(({ record, subscription }) => jobEvent(record, subscription));
    return this.publish(events, { rememberSubscriptions: true });
  }

  /** A fresh delivery (new webhook-id) of a finished job's final event. */
  async redeliver(record: FinishedJobRecord, subscription: WebhookSubscription, redeliveryOf?: string): Promise<DeliverySummary | undefined> {
    const [summary] = await this.publish([{ ...jobEvent(record, subscription), ...(redeliveryOf ? { redeliveryOf } : {}) }]);
    return summary;
  }

  /** Queues one delivery per subscribed event; returns their summaries. Batch events come through here too. */
  async publish(events: readonly WebhookEvent[], options: { rememberSubscriptions?: boolean } = {}): Promise<DeliverySummary[]> {
    const now = Date.now();
    const firstDelay = this.options.schedule.delayBefore(1) ?? 0;
    const entries: DeliveryLogEntry[] = [];
    const jobs: { data: DeliveryJobData; summary: DeliverySummary }[] = [];
    for (const event of events) {
      const entry: DeliveryLogEntry = {
        ownerId: event.ownerId,
        expiresAtMs: event.expiresAtMs,
        ...(options.rememberSubscriptions ? { subscription: event.subscription } : {}),
        deliveries: [],
      };
      entries.push(entry);
      if (!subscribesTo(event.subscription, event.type)) continue;
      const summary: DeliverySummary = {
        delivery_id: newDeliveryId(),
        event: event.type,
        url: redactUrl(event.subscription.url),
        created_at: new Date(now).toISOString(),
        state: 'pending',
        attempts_made: 0,
        next_attempt_at: new Date(now + firstDelay).toISOString(),
        ...(event.redeliveryOf ? { redelivery_of: event.redeliveryOf } : {}),
      };
      entry.deliveries.push(summary);
      jobs.push({
        summary,
        data: {
          delivery_id: summary.delivery_id,
          owner_id: event.ownerId,
          event: event.type,
          url: event.subscription.url,
          body: webhookBody(event.type, event.timestamp, event.data),
          expires_at_ms: event.expiresAtMs,
          created_at: summary.created_at,
          ...(event.redeliveryOf ? { redelivery_of: event.redeliveryOf } : {}),
        },
      });
    }
    await this.options.log.open(entries);
    if (jobs.length === 0) return [];
    await this.queueDeliveries(jobs.map((j) => j.data));
    return jobs.map((j) => j.summary);
  }

  private async queueDeliveries(deliveries: DeliveryJobData[]): Promise<void> {
    const firstDelay = this.options.schedule.delayBefore(1) ?? 0;
    await this.options.queue.addBulk(
      deliveries.map((data) => ({
        name: data.event,
        data,
        opts: {
          jobId: data.delivery_id,
          delay: firstDelay,
          attempts: this.options.schedule.attempts,
          backoff: { type: DELIVERY_BACKOFF_TYPE },
          // The delivery log is the record; the queue keeps nothing once an attempt sequence ends.
          removeOnComplete: true,
          removeOnFail: true,
        },
      })),
    );
  }

  /**
   * For finished jobs whose announcement a killed process may have cut short: announces those
   * never announced, and queues again, under the same webhook-id, a delivery that was logged but
   * never queued (killed between the two writes). A delivery that was queued is left alone, so
   * nothing is announced twice. Returns how many deliveries it queued.
   */
  async announceMissed(items: readonly { record: FinishedJobRecord; subscription: WebhookSubscription }[]): Promise<number> {
    const announced = await this.options.log.announced(items.map((i) => i.record.job_id));
    const fresh = items.filter((_, i) => !announced[i]);
    const queued = fresh.length > 0 ? (await this.jobsFinished(fresh)).length : 0;
    const lost: DeliveryJobData[] = [];
    for (const [i, { record, subscription }] of items.entries()) {
      if (!announced[i]) continue;
      for (const delivery of await this.options.log.list(record.job_id)) {
        if (delivery.state !== 'pending' || delivery.attempts_made > 0 || delivery.redelivery_of) continue;
        if (await this.options.queue.getJob(delivery.delivery_id)) continue;
        const event = jobEvent(record, subscription);
        lost.push({
          delivery_id: delivery.delivery_id,
          owner_id: record.job_id,
          event: delivery.event,
          url: subscription.url,
          body: webhookBody(delivery.event, event.timestamp, event.data),
          expires_at_ms: event.expiresAtMs,
          created_at: delivery.created_at,
        });
      }
    }
    if (lost.length > 0) await this.queueDeliveries(lost);
    return queued + lost.length;
  }
}

function jobEvent(record: FinishedJobRecord, subscription: WebhookSubscription): WebhookEvent {
  return {
    ownerId: record.job_id,
    type: jobEventType(record.status),
    timestamp: record.finished_at,
    data: record,
    subscription,
    expiresAtMs: Date.parse(record.expires_at),
  };
}

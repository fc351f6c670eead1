import type { FinishedStatus, WebhookSubscription } from '@inferq/core/job-types';

export const JOB_EVENT_TYPES = ['job.succeeded', 'job.failed', 'job.canceled'] as const;
export const BATCH_EVENT_TYPES = ['batch.progress', 'batch.completed'] as const;
/** Every event type a `webhook.events` filter may name. */
export const WEBHOOK_EVENT_TYPES = [...JOB_EVENT_TYPES, ...BATCH_EVENT_TYPES] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** The event that announces a job's end. */
export function jobEventType(status: FinishedStatus): WebhookEventType {
  return `job.${status}`;
}

/** No filter means every job.* event: batch events are opt-in, a job-only receiver never sees them. */
export function subscribesTo(subscription: WebhookSubscription, type: WebhookEventType): boolean {
  return subscription.events ? subscription.events.includes(type) : type.startsWith('job.');
}

/**
 * The body of a delivery, serialised once: every attempt sends (and signs) the same bytes.
 * `timestamp` is when the event happened, not when it was sent (that is the webhook-timestamp header).
 */
export function webhookBody(type: WebhookEventType, timestamp: string, data: unknown): string {
  return JSON.stringify({ type, timestamp, data });
}

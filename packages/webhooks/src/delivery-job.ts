import { randomBytes } from 'node:crypto';
import type { WebhookEventType } from './events.ts';

/** A delivery as queued on the webhooks queue (BullMQ job id = delivery_id). */
export interface DeliveryJobData {
  delivery_id: string;
  /** The job (or batch) whose delivery log records the attempts. */
  owner_id: string;
  event: WebhookEventType;
  url: string;
  /** The exact bytes sent and signed on every attempt. */
  body: string;
  /** When the owner's result, and so its delivery log, expires (epoch ms). */
  expires_at_ms: number;
  /** Copied into the log's summary on every write. */
  created_at: string;
  redelivery_of?: string;
}

/** The BullMQ backoff type whose delays the delivery worker computes (schedule, jitter, Retry-After). */
export const DELIVERY_BACKOFF_TYPE = 'webhook-schedule';

/** A Standard Webhooks message id: `msg_` and 128 random bits. Safe as a BullMQ job id (no ':'). */
export function newDeliveryId(): string {
  return `msg_${randomBytes(16).toString('base64url')}`;
}

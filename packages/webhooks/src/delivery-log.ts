import type { WebhookSubscription } from '@inferq/core/job-types';
import { groupByOwnerModel, type Keyspace } from '@inferq/core/keyspace';
import type { Redis } from '@inferq/core/redis-connection';
import type { WebhookEventType } from './events.ts';

/** The URL as the log shows it: a password in it (basic auth to the receiver) is masked. */
export function redactUrl(raw: string): string {
  try {
    const url = new URL(raw);
    if (!url.password) return raw;
    url.password = '***';
    return url.href;
  } catch {
    return raw;
  }
}

export type DeliveryState = 'pending' | 'retrying' | 'succeeded' | 'failed';

/** One delivery of one event: the webhook-id it carries on every attempt, and where it stands. */
export interface DeliverySummary {
  /** Also the `webhook-id` header, the same on every attempt. */
  delivery_id: string;
  event: WebhookEventType;
  /** Where it goes, password masked. */
  url: string;
  created_at: string;
  /** pending: no attempt yet; retrying: an attempt failed and another is scheduled. */
  state: DeliveryState;
  attempts_made: number;
  next_attempt_at: string | null;
  /** Set on a delivery made by POST …/redeliver: the delivery it repeats, if there was one. */
  redelivery_of?: string;
}

export interface DeliveryAttempt {
  attempt: number;
  at: string;
  /** The receiver's status; null when it never answered. */
  status_code: number | null;
  latency_ms: number;
  error: string | null;
  next_attempt_at: string | null;
}

export type DeliveryView = DeliverySummary & { attempts: DeliveryAttempt[] };

/** What a delivery opens with: its summary, and optionally the subscription to remember for redelivery. */
export interface DeliveryLogEntry {
  ownerId: string;
  expiresAtMs: number;
  subscription?: WebhookSubscription;
  deliveries: DeliverySummary[];
}

/**
 * The webhook state of a job in Redis, expiring at the same instant as the job's result (PXAT on
 * every write, so a late write after expiry does not bring the key back for good): its
 * subscription, a hash of delivery summaries, and a list of attempts per delivery. Attempts are
 * appended (RPUSH), never rewritten, and a delivery's summary has a single writer at a time (the
 * BullMQ job's lock holder), so there is no read-modify-write to race on.
 */
export class DeliveryLog {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keyspace,
  ) {}

  /** Records subscriptions and new deliveries, for many jobs in one round trip. */
  async open(entries: readonly DeliveryLogEntry[]): Promise<void> {
    const live = entries.filter((e) => e.expiresAtMs > Date.now());
    if (live.length === 0) return;
    // One pipeline per model: a job's webhook keys share its model's cluster slot.
    await Promise.all([...groupByOwnerModel(live, (e) => e.ownerId).values()].map((group) => this.openGroup(group)));
  }

  private async openGroup(entries: readonly DeliveryLogEntry[]): Promise<void> {
    const pipeline = this.redis.pipeline();
    for (const entry of entries) {
      if (entry.subscription) {
        pipeline.set(this.keys.webhookSubscription(entry.ownerId), JSON.stringify(entry.subscription), 'PXAT', entry.expiresAtMs);
      }
      if (entry.deliveries.length === 0) continue;
      const hash = this.keys.webhookDeliveries(entry.ownerId);
      pipeline.hset(hash, Object.fromEntries(entry.deliveries.map((d) => [d.delivery_id, JSON.stringify(d)])));
      pipeline.pexpireat(hash, entry.expiresAtMs);
    }
    await execOrThrow(pipeline);
  }

  async recordAttempt(ownerId: string, expiresAtMs: number, summary: DeliverySummary, attempt: DeliveryAttempt): Promise<void> {
    if (expiresAtMs <= Date.now()) return;
    const hash = this.keys.webhookDeliveries(ownerId);
    const attempts = this.keys.webhookAttempts(ownerId, summary.delivery_id);
    await execOrThrow(
      this.redis
        .pipeline()
        .rpush(attempts, JSON.stringify(attempt))
        .pexpireat(attempts, expiresAtMs)
        .hset(hash, summary.delivery_id, JSON.stringify(summary))
        .pexpireat(hash, expiresAtMs),
    );
  }

  /** Per owner, whether its end was announced (its subscription is remembered at announce time). */
  async announced(ownerIds: readonly string[]): Promise<boolean[]> {
    if (ownerIds.length === 0) return [];
    const announced = new Map<string, boolean>();
    await Promise.all(
      [...groupByOwnerModel(ownerIds, (id) => id).values()].map(async (ids) => {
        const values = await this.redis.mget(ids.map((id) => this.keys.webhookSubscription(id)));
        for (const [i, id] of ids.entries()) announced.set(id, values[i] !== null);
      }),
    );
    return ownerIds.map((id) => announced.get(id) ?? false);
  }

  async subscription(ownerId: string): Promise<WebhookSubscription | undefined> {
    const value = await this.redis.get(this.keys.webhookSubscription(ownerId));
    return value ? (JSON.parse(value) as WebhookSubscription) : undefined;
  }

  /** Every delivery of a job with its attempts, oldest delivery first. */
  async list(ownerId: string): Promise<DeliveryView[]> {
    const hash = await this.redis.hgetall(this.keys.webhookDeliveries(ownerId));
    const summaries = Object.values(hash).map((v) => JSON.parse(v) as DeliverySummary);
    if (summaries.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const s of summaries) pipeline.lrange(this.keys.webhookAttempts(ownerId, s.delivery_id), 0, -1);
    const replies = await execOrThrow(pipeline);
    return summaries
      .map((s, i) => ({ ...s, attempts: ((replies[i]?.[1] ?? []) as string[]).map((a) => JSON.parse(a) as DeliveryAttempt) }))
      .sort((a, b) => (a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : 0));
  }
}

type Pipeline = ReturnType<Redis['pipeline']>;

/** A pipeline reports per-command errors in its replies; surface the first as a throw. */
async function execOrThrow(pipeline: Pipeline): Promise<[Error | null, unknown][]> {
  const replies = (await pipeline.exec()) ?? [];
  const failed = replies.find(([error]) => error)?.[0];
  if (failed) throw failed;
  return replies;
}

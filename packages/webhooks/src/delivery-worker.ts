import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Keyspace } from '@inferq/core/keyspace';
import type { Logger } from '@inferq/core/logger';
import type { Redis } from '@inferq/core/redis-connection';
import type { DeliveryClient } from './delivery-client.ts';
import type { DeliveryJobData } from './delivery-job.ts';
import { redactUrl, type DeliveryAttempt, type DeliveryLog, type DeliverySummary } from './delivery-log.ts';
import type { RetrySchedule } from './retry-schedule.ts';
import { signedHeaders } from './signer.ts';

export interface DeliveryWorkerOptions {
  /** A blocking connection (maxRetriesPerRequest: null), as BullMQ workers need. */
  connection: Redis;
  keys: Keyspace;
  log: DeliveryLog;
  client: DeliveryClient;
  schedule: RetrySchedule;
  /** Every delivery is signed with each (rotation). */
  secrets: readonly string[];
  logger: Logger;
  /** Deliveries in flight at once. Default: 16. */
  concurrency?: number;
  /** BullMQ lock and stall check: how soon a delivery in flight on a killed worker is retried. Default: BullMQ's 30 s. */
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  metrics?: DeliveryMetrics;
}

/** Told the outcome of every attempt (for /metrics). */
export interface DeliveryMetrics {
  webhookAttempt(event: string, outcome: 'succeeded' | 'retrying' | 'failed', latencyMs: number): void;
}

/** A failed attempt that is retried after `delayMs`, chosen when the attempt was logged. */
class RetryLater extends Error {
  constructor(
    message: string,
    readonly delayMs: number,
  ) {
    super(message);
    this.name = 'RetryLater';
  }
}

/**
 * Consumes the webhooks queue: one attempt per BullMQ attempt. Waiting between attempts is
 * BullMQ's delayed set (the backoff strategy returns the delay this attempt chose and logged),
 * so no process holds a timer or any state: a retry due while this process is gone is taken by
 * another worker. Every attempt carries the same webhook-id and a fresh timestamp and signature.
 */
export class DeliveryWorker {
  private readonly worker: Worker<DeliveryJobData>;

  constructor(private readonly options: DeliveryWorkerOptions) {
    this.worker = new Worker<DeliveryJobData>(options.keys.webhookQueue(), (job) => this.attempt(job), {
      connection: options.connection,
      prefix: options.keys.prefix,
      concurrency: options.concurrency ?? 16,
      ...(options.lockDurationMs ? { lockDuration: options.lockDurationMs } : {}),
      ...(options.stalledIntervalMs ? { stalledInterval: options.stalledIntervalMs } : {}),
      autorun: false,
      settings: {
        // An error other than RetryLater (the log write failed) falls back to the plain schedule.
        backoffStrategy: (attemptsMade, _type, error) =>
          error instanceof RetryLater ? error.delayMs : (options.schedule.delayBefore(Math.min(attemptsMade + 1, options.schedule.attempts)) ?? 0),
      },
    });
    this.worker.on('error', (error) => options.logger.error({ err: error }, 'webhook queue worker error'));
  }

  start(): void {
    void this.worker.run();
  }

  /** Stops taking deliveries and waits for those in flight. */
  close(): Promise<void> {
    return this.worker.close();
  }

  private async attempt(job: Job<DeliveryJobData>): Promise<void> {
    const { schedule, log, logger } = this.options;
    const data = job.data;
    const attempt = job.attemptsMade + 1;
    const attempts = job.opts.attempts ?? 1;
    const at = new Date();
    const headers = signedHeaders(this.options.secrets, data.delivery_id, Math.floor(at.getTime() / 1000), data.body);
    const response = await this.options.client.post(data.url, data.body, { ...headers });
    const gone = response.statusCode === 410;
    const retry = !response.ok && !gone && attempt < attempts;
    const delayMs = retry ? (schedule.delayBefore(Math.min(attempt + 1, schedule.attempts), response.retryAfterMs) ?? 0) : undefined;
    const nextAttemptAt = delayMs === undefined ? null : new Date(Date.now() + delayMs).toISOString();
    const error = gone ? 'HTTP 410: the receiver asked for no further attempts' : (response.error ?? null);
    const record: DeliveryAttempt = { attempt, at: at.toISOString(), status_code: response.statusCode, latency_ms: response.latencyMs, error, next_attempt_at: nextAttemptAt };
    const summary: DeliverySummary = {
      delivery_id: data.delivery_id,
      event: data.event,
      url: redactUrl(data.url),
      created_at: data.created_at,
      state: response.ok ? 'succeeded' : retry ? 'retrying' : 'failed',
      attempts_made: attempt,
      next_attempt_at: nextAttemptAt,
      ...(data.redelivery_of ? { redelivery_of: data.redelivery_of } : {}),
    };
    try {
      await log.recordAttempt(data.owner_id, data.expires_at_ms, summary, record);
    } catch (logError) {
      // A lost log line must not turn a delivered webhook into a redelivered one.
      logger.warn({ err: logError, delivery_id: data.delivery_id }, 'could not record a webhook attempt');
    }
    this.options.metrics?.webhookAttempt(data.event, summary.state === 'succeeded' ? 'succeeded' : summary.state === 'retrying' ? 'retrying' : 'failed', response.latencyMs);
    const context = { delivery_id: data.delivery_id, owner_id: data.owner_id, event: data.event, attempt, status_code: response.statusCode };
    if (response.ok) {
      logger.debug(context, 'webhook delivered');
      return;
    }
    if (!retry) {
      logger.warn({ ...context, error }, gone ? 'webhook receiver answered 410: delivery stopped' : 'webhook delivery failed on its last attempt');
      throw new UnrecoverableError(error ?? 'delivery failed');
    }
    logger.info({ ...context, error, next_attempt_at: nextAttemptAt }, 'webhook attempt failed; retry scheduled');
    throw new RetryLater(error ?? 'delivery failed', delayMs ?? 0);
  }
}

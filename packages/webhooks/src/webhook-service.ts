import { Queue } from '@inferq/core/bullmq-queue';
import type { Config } from '@inferq/core/config';
import type { Keyspace } from '@inferq/core/keyspace';
import type { Logger } from '@inferq/core/logger';
import type { Redis } from '@inferq/core/redis-connection';
import type { DeliveryJobData } from './delivery-job.ts';
import { DeliveryLog } from './delivery-log.ts';
import { WebhookDispatcher } from './dispatcher.ts';
import { announceFinishedJobs } from './job-announcer.ts';
import { RetrySchedule } from './retry-schedule.ts';
import { resolveSigningSecrets } from './signing-secrets.ts';
import { AddressPolicy } from './ssrf-guard.ts';

export interface WebhookServiceDeps {
  config: Config;
  /** The process's producer connection: the log and the secret use it. */
  redis: Redis;
  /** The connection the deliveries queue uses (BullMQ loads its scripts into it). Default: redis. */
  queueConnection?: Redis;
  keys: Keyspace;
  logger: Logger;
}

/** What both processes need: enqueue deliveries, read the log, check URLs against the policy. */
export interface WebhookProducer {
  dispatcher: WebhookDispatcher;
  /** Queues the deliveries of finished jobs that named a webhook; logs (never throws) a failure. */
  announce: ReturnType<typeof announceFinishedJobs>;
  log: DeliveryLog;
  policy: AddressPolicy;
  /** The signing secrets, configured or generated (see resolveSigningSecrets). */
  secrets: string[];
  /** The deliveries queue itself (the API's queue dashboard shows it). */
  queue: Queue<DeliveryJobData>;
  close(): Promise<void>;
}

/**
 * The API's side of webhooks (submit checks, cancel events, the delivery log routes). It also
 * settles the signing secret, so the first process to start, API or worker, logs a generated one.
 */
export async function createWebhookProducer(deps: WebhookServiceDeps): Promise<WebhookProducer> {
  const { config, redis, keys, logger } = deps;
  const secrets = await resolveSigningSecrets({ configured: config.webhookSecrets, redis, keys, logger });
  const queue = new Queue<DeliveryJobData>(keys.webhookQueue(), { connection: deps.queueConnection ?? redis, prefix: keys.prefix });
  const log = new DeliveryLog(redis, keys);
  const schedule = new RetrySchedule(config.webhookRetrySchedule);
  const dispatcher = new WebhookDispatcher({ queue, log, schedule });
  return {
    dispatcher,
    announce: announceFinishedJobs(dispatcher, logger),
    log,
    policy: new AddressPolicy(config.webhookAllowCidrs),
    secrets,
    queue,
    close: () => queue.close(),
  };
}

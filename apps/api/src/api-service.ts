import { Queue } from '@inferq/core/bullmq-queue';
import type { Config } from '@inferq/core/config';
import type { QueuePayload } from '@inferq/core/job-types';
import { BatchStore } from '@inferq/batch/batch-store';
import { readSchedulesFile, ScheduleRegistry, type ScheduledRun } from '@inferq/batch/schedule';
import { Keyspace } from '@inferq/core/keyspace';
import { decodeModelsChanged } from '@inferq/core/models-changed-message';
import type { Logger } from '@inferq/core/logger';
import { checkRedisRequirements, createBlockingConnection, createProducerConnection, type Redis } from '@inferq/core/redis-connection';
import { loadModelRepository } from '@inferq/inference/model-repository';
import { IdempotencyKeys } from '@inferq/jobs/idempotency-keys';
import { JobStore } from '@inferq/jobs/job-store';
import { predictionLogLimits } from '@inferq/core/prediction-log-script';
import { announceBatchEvents } from '@inferq/webhooks/batch-announcer';
import { createWebhookProducer } from '@inferq/webhooks/webhook-service';
import { createApp } from './app.ts';
import { apiMetrics, createObservability } from './observability.ts';
import { DEFAULT_TENANT, Keyring } from './auth/keyring.ts';
import { CompletionListener } from './services/completion-listener.ts';
import { EventHub } from './services/event-hub.ts';
import { BatchService } from './services/batch-service.ts';
import { Admission } from './services/admission.ts';
import { JobService } from './services/job-service.ts';
import { PredictionService } from './services/prediction-service.ts';
import { PredictionFileSink } from './services/prediction-file-sink.ts';
import { PredictionStore } from '@inferq/jobs/prediction-store';
import { ModelCatalog } from './services/model-catalog.ts';
import { StorageMonitor } from './services/storage-monitor.ts';
import { RoutingService } from './routing/routing-service.ts';

export interface ApiService {
  app: ReturnType<typeof createApp>;
  /** Answers every held long-poll and ends every event stream now, so a stopping server is not kept open by them. */
  releaseLongPolls(): void;
  close(): Promise<void>;
}

async function connected(connection: Redis, url: string): Promise<Redis> {
  await new Promise<void>((resolve, reject) => {
    connection.once('ready', resolve);
    connection.once('error', reject);
  }).catch((error: Error) => {
    connection.disconnect();
    throw new Error(`cannot reach Redis at ${url.replace(/\/\/[^@]*@/, '//***@')}: ${error.message}`);
  });
  return connection;
}

/**
 * Creates everything the API needs once, at start-up: two producer connections (the queues', and
 * one for everything else), one subscriber for long-polls, the checked model repository.
 */
export async function startApiService(config: Config, logger: Logger): Promise<ApiService> {
  const keys = new Keyspace(config.queuePrefix);
  // Auto-pipelining batches the commands of concurrent requests into one socket write per tick.
  // The queues get a connection of their own: BullMQ defines its 64 scripts on the connection it
  // is given, and ioredis copies them into every pipeline, auto-pipelines included (22 µs each).
  const redis = await connected(createProducerConnection(config.redisUrl, { enableAutoPipelining: true }), config.redisUrl);
  const queueRedis = await connected(createProducerConnection(config.redisUrl), config.redisUrl);
  const requirements = await checkRedisRequirements(redis);
  logger.info({ redis_version: requirements.version }, 'redis checked');
  // ioredis reconnects on its own; requests meanwhile get 503. Log the outage, do not crash on it.
  for (const connection of [redis, queueRedis]) connection.on('error', (error: Error) => logger.warn({ err: error.message }, 'redis connection error'));

  const models = await loadModelRepository(config.modelDir);
  for (const model of models.values()) {
    for (const v of model.versions) {
      if (v.state === 'refused') logger.error({ model: v.name, version: v.version, reason: v.reason }, 'model version refused');
    }
  }
  logger.info({ models: [...models.keys()], dir: config.modelDir }, 'model repository loaded');

  const keyring = await Keyring.load({ apiKeys: config.apiKeys, adminKeys: config.adminKeys, file: config.apiKeysFile, logger });
  if (keyring.open) {
    logger.warn('NO API KEYS CONFIGURED: the API is open to anyone who can reach it, as tenant "default". Set INFERQ_API_KEYS or INFERQ_API_KEYS_FILE before exposing it.');
  }
  const queues = new Map<string, Queue<QueuePayload>>();
  for (const name of models.keys()) {
    queues.set(name, new Queue<QueuePayload>(keys.modelQueue(name), { connection: queueRedis, prefix: keys.prefix }));
  }
  const catalog = new ModelCatalog(models, redis, keys, config.modelDir);
  // One subscriber for control messages: routing changes, and versions workers hot-loaded.
  const control = createBlockingConnection(config.redisUrl);
  const modelsChanged = keys.modelsChangedChannel();
  control.on('message', (channel: string, message: string) => {
    if (channel !== modelsChanged) return;
    const change = decodeModelsChanged(message);
    if (!change) return;
    const { model, version, state } = change;
    if (state === 'unloading') return catalog.markUnloaded(model, version);
    if (state === 'unloaded') return;
    void catalog.rescan(model, logger, state === 'failed' ? version : undefined).catch((error: Error) => logger.error({ model, err: error.message }, 'model rescan failed'));
  });
  await control.subscribe(modelsChanged);
  await catalog.loadUnloaded();
  const predictions = new PredictionService({
    store: new PredictionStore(redis, keys, config.predictionLogRetentionSeconds * 1000, config.qualityWindow),
    catalog,
    driftPsiThreshold: config.driftPsiThreshold,
  });
  const routing = await RoutingService.start({
    config,
    redis,
    subscriber: control,
    keys,
    catalog,
    logger: logger.child({ component: 'routing' }),
    quality: (model, versions, since) => predictions.labelledQuality(model, versions, since),
  });
  const logLimits = predictionLogLimits(config);
  const store = new JobStore(redis, keys, logLimits);
  const metrics = apiMetrics({ catalog, store, queues, cacheMs: config.metricsCacheMs, monitoring: () => predictions.snapshot() });
  const completions = await CompletionListener.start(createBlockingConnection(config.redisUrl), keys, logger, [...models.keys()], config.maxHeldLongPolls);
  // Connects on the first stream: a process nobody streams from holds no extra connection.
  const events = new EventHub(createBlockingConnection(config.redisUrl, { lazyConnect: true }), keys, logger, config.maxHeldEventStreams);
  const webhooks = await createWebhookProducer({ config, redis, queueConnection: queueRedis, keys, logger });
  // Fair ordering between tenants: only meaningful with several tenants.
  const admission = new Admission({ store, keys, catalog, maxQueueDepth: config.maxQueueDepth, fair: !keyring.open });
  const idempotency = new IdempotencyKeys(redis, keys, config.idempotencyTtlSeconds * 1000);
  const storage = new StorageMonitor({ redis, logger, onRefused: () => metrics.storageRefused() });
  const jobs = new JobService({ config, store, idempotency, catalog, queues, completions, webhooks, admission, metrics, routing, predictionLog: logLimits !== undefined, storage });
  const batchStore = new BatchStore(redis, keys, announceBatchEvents(webhooks.dispatcher, logger));
  const batches = new BatchService({ config, store: batchStore, catalog, queues, completions, webhooks, routing });
  const scheduleQueue = new Queue<ScheduledRun>(keys.schedulesQueue(), { connection: queueRedis, prefix: keys.prefix });
  const schedules = new ScheduleRegistry(scheduleQueue);
  if (config.schedulesFile) {
    for (const [name, schedule] of await readSchedulesFile(config.schedulesFile)) {
      catalog.resolveVersion(schedule.model, schedule.version);
      // File schedules belong to the operator: their batches are the admin tenant's.
      await schedules.upsert(name, schedule, keyring.open ? DEFAULT_TENANT : 'admin');
      logger.info({ schedule: name, cron: schedule.cron, tz: schedule.tz }, 'schedule applied from file');
    }
  }
  const fileSink = config.predictionLogDir
    ? new PredictionFileSink({ redis, keys, models: () => catalog.names(), dir: config.predictionLogDir, maxFileBytes: config.predictionLogFileMaxBytes, logger: logger.child({ component: 'prediction-files' }) })
    : undefined;
  fileSink?.start();
  const app = createApp({
    logger,
    keyring,
    ...(config.rateLimitPerSecond > 0 ? { rateLimit: { redis, keys, perSecond: config.rateLimitPerSecond, burst: config.rateLimitBurst } } : {}),
    redis,
    catalog,
    storage,
    routing,
    keys,
    jobs,
    webhooks,
    batches,
    predictions,
    schedules,
    events: { hub: events, heartbeatMs: config.eventHeartbeatMs },
    limits: { maxBodyBytes: config.maxBodyBytes, maxBatchBytes: config.maxBatchBytes, maxJobsPerBulk: config.maxJobsPerBulk, requestTimeoutMs: config.requestTimeoutMs, maxInFlightRequests: config.maxInFlightRequests, maxTtlSeconds: config.maxResultTtlSeconds, maxLongPollSeconds: config.maxLongPollSeconds },
    observability: createObservability({ metrics, queues, webhookQueue: webhooks.queue, scheduleQueue, maxTtlSeconds: config.maxResultTtlSeconds, maxLongPollSeconds: config.maxLongPollSeconds }),
  });
  return {
    app,
    releaseLongPolls: () => {
      completions.releaseAll();
      events.releaseAll();
    },
    async close() {
      keyring.close();
      routing.close();
      await fileSink?.close();
      await control.quit().catch(() => control.disconnect());
      await completions.close();
      await events.close();
      await Promise.all([...queues.values(), scheduleQueue].map((q) => q.close()));
      await webhooks.close();
      await Promise.all([redis, queueRedis].map((c) => c.quit().catch(() => c.disconnect())));
    },
  };
}

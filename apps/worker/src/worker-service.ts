import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import os from 'node:os';
import { ConfigError, type Config } from '@inferq/core/config';
import { Keyspace } from '@inferq/core/keyspace';
import { decodeModelsChanged, encodeModelsChanged, type ModelChangeState } from '@inferq/core/models-changed-message';
import type { Logger } from '@inferq/core/logger';
import { checkRedisRequirements, createBlockingConnection, createProducerConnection, type Redis } from '@inferq/core/redis-connection';
import { loadModelRepository, type ModelVersionEntry } from '@inferq/inference/model-repository';
import { BatchStore } from '@inferq/batch/batch-store';
import { JobStore } from '@inferq/jobs/job-store';
import { PredictionLogWriter, predictionLogLimits } from '@inferq/core/prediction-log-script';
import { PolicyStore } from '@inferq/routing/policy-store';
import { announceBatchEvents } from '@inferq/webhooks/batch-announcer';
import { startWebhookDelivery } from '@inferq/webhooks/webhook-delivery';
import { ChunkRunner } from './chunk-runner.ts';
import { ScheduleRunner } from './schedule-runner.ts';
import { ModelWorker } from './model-worker.ts';
import { ResultWriter } from './result-writer.ts';
import { VersionRunner } from './version-runner.ts';
import { PipelineRunner } from './pipeline-runner.ts';
import { RecordWaiter } from './record-waiter.ts';
import { RequestSubmitter } from './request-submitter.ts';
import { ImageScorer } from './image-scorer.ts';
import { WorkerHeartbeat } from './worker-heartbeat.ts';
import { HealthRecorder } from './health-recorder.ts';
import { HotLoader } from './hot-loader.ts';
import { ShadowLog } from './shadow-log.ts';
import { VersionUnloader } from './version-unloader.ts';
import { VersionAvailability } from './version-availability.ts';
import { Queue } from 'bullmq';
import type { QueuePayload } from '@inferq/core/job-types';
import { countFinishedJobs, inferenceRunObserver, sendMetrics, workerMetrics, type WorkerMetrics } from './metrics/worker-metrics.ts';

export interface WorkerService {
  workerId: string;
  heartbeat: WorkerHeartbeat;
  /** Stops taking jobs, lets in-flight batches finish, then releases threads and connections. */
  stop(): Promise<void>;
}

/**
 * Starts a worker process's parts: checks Redis, loads and warms every available model version
 * (a version that fails is reported and skipped; the others serve), then starts one BullMQ
 * worker per model. Jobs are only taken once the model's versions are warm.
 */
export async function startWorkerService(config: Config, logger: Logger): Promise<WorkerService> {
  const keys = new Keyspace(config.queuePrefix);
  const redis = createProducerConnection(config.redisUrl, { enableOfflineQueue: true, maxRetriesPerRequest: 3 });
  const requirements = await checkRedisRequirements(redis);
  logger.info({ redis_version: requirements.version }, 'redis checked');

  const workerId = `${os.hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const heartbeat = new WorkerHeartbeat(redis, keys, workerId, os.hostname(), logger);
  heartbeat.start();
  const metrics = workerMetrics(heartbeat);
  const countFinished = countFinishedJobs(metrics, logger);
  // Deliveries run on their own queue and connection: a slow receiver never holds up inference.
  const webhookConnection = createBlockingConnection(config.redisUrl);
  const webhooks = await startWebhookDelivery({ config, redis, keys, logger, connection: webhookConnection, metrics });
  const logLimits = predictionLogLimits(config);
  const store = new JobStore(redis, keys, logLimits);
  const resultWriter = new ResultWriter(store, async (written) => {
    for (const { record } of written) heartbeat.countFinished(record.model, record.model_version);
    countFinished(written.map((w) => w.record));
    await webhooks.announce(written);
  });
  const batchStore = new BatchStore(redis, keys, announceBatchEvents(webhooks.dispatcher, logger), logLimits);
  const chunks = new ChunkRunner(batchStore, logger, metrics, logLimits !== undefined);
  const predictionLog = logLimits ? { shadows: new PredictionLogWriter(redis, keys, logLimits) } : undefined;
  const repository = await loadModelRepository(config.modelDir, { only: config.models });
  const connections: Redis[] = [redis, webhookConnection];
  const runners: VersionRunner[] = [];
  const modelWorkers: ModelWorker[] = [];
  const health = new HealthRecorder(redis, keys, config.healthWindowSeconds * 1000, logger);
  const shadowLog = new ShadowLog(redis, keys, logger.child({ component: 'shadow' }));
  /** Per model, the versions it serves: the ModelWorker reads this map, so versions added later take jobs at once. */
  const served = new Map<string, Map<string, VersionRunner>>();
  const loading = new Map<string, Set<string>>();
  // Jobs for a version still loading here (or ready on another worker) wait rather than fail.
  const availability = new VersionAvailability({ redis, keys, workerId });
  const announce = (model: string, version: string, state: ModelChangeState) =>
    redis.publish(keys.modelsChangedChannel(), encodeModelsChanged({ model, version, state })).catch((error: Error) => logger.warn({ err: error.message }, 'model change not announced'));

  /** The model's BullMQ worker, started with its first ready version. */
  const ensureModelWorker = (model: string, loaded: Map<string, VersionRunner>) => {
    if (modelWorkers.some((w) => w.model === model)) return;
    const largestBatch = Math.max(...[...loaded.values()].map((r) => r.manifest.max_batch_size));
    const connection = createBlockingConnection(config.redisUrl);
    connections.push(connection);
    const modelWorker = new ModelWorker({
      model,
      runners: loaded,
      connection,
      keys,
      store,
      resultWriter,
      chunks,
      logger: logger.child({ model }),
      concurrency: largestBatch * config.inferenceThreads * config.batchConcurrencyFactor,
      lockDurationMs: config.lockDurationMs,
      stalledIntervalMs: config.stalledIntervalMs,
      maxRowsPerJob: config.maxRowsPerJob,
      imageLimits: { maxPixels: config.maxImagePixels, maxWidth: config.maxImageWidth },
      health,
      shadowLog,
      predictionLog,
      onMissingVersion: () => void hotLoader?.scan(),
      versionOutlook: (version) => availability.outlook(model, version),
      announceMissed: async (requests) => {
        const records = await store.readFinishedMany(requests.map((r) => r.id));
        // Canceled records are the API's to announce; the worker only ever stores outcomes.
        const items = requests.flatMap((r, i) => {
          const record = records[i];
          return record && record.status !== 'canceled' && r.webhook ? [{ record, subscription: r.webhook }] : [];
        });
        if (items.length === 0) return;
        const queued = await webhooks.dispatcher.announceMissed(items).catch((error: Error) => {
          logger.error({ model, err: error.message }, 'could not check the announcements of a retried bundle');
          return 0;
        });
        if (queued > 0) logger.warn({ model, deliveries: queued }, 'queued deliveries of finished requests that a killed worker had not queued');
      },
    });
    modelWorker.start();
    modelWorkers.push(modelWorker);
  };

  // Every model in the repository: pipeline stages and schedule ticks may use models this worker does not serve.
  const allModels = config.models.length > 0 ? await loadModelRepository(config.modelDir) : repository;
  const policies = new PolicyStore(redis, keys);
  const requests = new RequestSubmitter({ producer: redis, keys, store, attempts: config.jobAttempts, maxBundleBytes: config.bundleMaxBytes });
  let recordWaiter: Promise<RecordWaiter> | undefined;
  /** One completion subscriber per process, started when a pipeline or a schedule's images first need it. */
  const waiter = () => {
    if (!recordWaiter) {
      const subscriber = createBlockingConnection(config.redisUrl);
      connections.push(subscriber);
      recordWaiter = RecordWaiter.start(subscriber, keys, store, logger.child({ component: 'record-waiter' }));
    }
    return recordWaiter;
  };
  /** Per pipeline, its loaded versions' runners: read by its ModelWorker. */
  const pipelines = new Map<string, Map<string, PipelineRunner>>();

  /** A pipeline version: checks its stages' models exist, then serves its queue (no threads of its own). */
  const loadPipeline = async (entry: ModelVersionEntry & { pipeline: NonNullable<ModelVersionEntry['pipeline']> }) => {
    const missing = entry.pipeline.stages.filter((s) => !allModels.has(s.model)).map((s) => s.model);
    if (missing.length > 0) throw new Error(`its stages name models not in the repository: ${missing.join(', ')}`);
    const runner = new PipelineRunner({
      name: entry.name,
      version: entry.version,
      pipeline: entry.pipeline,
      models: allModels,
      submitter: requests,
      waiter: await waiter(),
      policies,
      maxImagePixels: config.maxImagePixels,
      logger: logger.child({ model: entry.name, version: entry.version }),
    });
    const versions = pipelines.get(entry.name) ?? new Map<string, PipelineRunner>();
    pipelines.set(entry.name, versions);
    versions.set(entry.version, runner);
    await heartbeat.set({ model: entry.name, version: entry.version, state: 'ready', provider: 'pipeline', threads: 0 });
    logger.info({ model: entry.name, version: entry.version, stages: entry.pipeline.stages.map((s) => s.model) }, 'pipeline version ready');
    if (modelWorkers.some((w) => w.model === entry.name)) return;
    const connection = createBlockingConnection(config.redisUrl);
    connections.push(connection);
    const modelWorker = new ModelWorker({
      model: entry.name,
      runners: new Map(),
      pipelines: versions,
      connection,
      keys,
      store,
      resultWriter,
      chunks,
      logger: logger.child({ model: entry.name }),
      // Bundles, each of up to max_batch_size pages: together about max_in_flight pages at once.
      concurrency: Math.max(1, Math.ceil(entry.pipeline.max_in_flight / entry.pipeline.max_batch_size)),
      lockDurationMs: config.lockDurationMs,
      stalledIntervalMs: config.stalledIntervalMs,
      maxRowsPerJob: config.maxRowsPerJob,
      imageLimits: { maxPixels: config.maxImagePixels, maxWidth: config.maxImageWidth },
    });
    modelWorker.start();
    modelWorkers.push(modelWorker);
  };

  /** Loads and warms one checked version; it reports ready (and takes jobs) only once warm. */
  const loadVersion = async (entry: ModelVersionEntry): Promise<boolean> => {
    const log = logger.child({ model: entry.name, version: entry.version });
    if (entry.pipeline) {
      try {
        await loadPipeline({ ...entry, pipeline: entry.pipeline });
        return true;
      } catch (error) {
        log.error({ err: error }, 'pipeline version failed to load');
        await heartbeat.set({ model: entry.name, version: entry.version, state: 'failed', reason: (error as Error).message });
        return false;
      }
    }
    const attempted = loading.get(entry.name) ?? new Set<string>();
    attempted.add(entry.version);
    loading.set(entry.name, attempted);
    availability.loading(entry.name, entry.version);
    await heartbeat.set({ model: entry.name, version: entry.version, state: 'loading' });
    try {
      const runner = await VersionRunner.load(entry, {
        threads: config.inferenceThreads,
        policy: {
          intraOpThreads: config.resolvedIntraOpThreads,
          spinning: config.intraOpSpinning,
          dynamicBlockBase: config.intraOpDynamicBlockBase,
          niceIncrement: config.inferenceNice,
        },
        imageThreads: config.resolvedImageThreads,
        executionProviders: config.executionProviders,
        logger: log,
        onRun: inferenceRunObserver(metrics, entry.name, entry.version),
      });
      const loaded = served.get(entry.name) ?? new Map<string, VersionRunner>();
      served.set(entry.name, loaded);
      loaded.set(entry.version, runner);
      runners.push(runner);
      await heartbeat.set({ model: entry.name, version: entry.version, state: 'ready', provider: runner.pool.provider, threads: runner.pool.size });
      log.info({ provider: runner.pool.provider, threads: runner.pool.size, intra_op_threads: config.resolvedIntraOpThreads, inference_nice: config.inferenceNice }, 'model version ready');
      ensureModelWorker(entry.name, loaded);
      return true;
    } catch (error) {
      attempted.delete(entry.version);
      log.error({ err: error }, 'model version failed to load');
      await heartbeat.set({ model: entry.name, version: entry.version, state: 'failed', reason: (error as Error).message });
      return false;
    } finally {
      availability.settled(entry.name, entry.version);
    }
  };
  const refuseVersion = async (entry: ModelVersionEntry) => {
    await heartbeat.set({ model: entry.name, version: entry.version, state: 'failed', reason: entry.reason ?? 'refused' });
  };

  let hotLoader: HotLoader | undefined;
  const refusedAtStart: ModelVersionEntry[] = [];
  // Versions an operator unloaded stay unloaded: never loaded again, by this worker or the hot loader.
  const unloadedAtStart = new Map<string, Set<string>>();
  for (const model of repository.values()) {
    const unloaded = new Set(await redis.smembers(keys.unloading(model.name)));
    unloadedAtStart.set(model.name, unloaded);
    loading.set(model.name, new Set(unloaded));
    // The model's worker starts with its first ready version: jobs for the others wait for them.
    for (const entry of model.versions) if (entry.state === 'available' && !unloaded.has(entry.version)) availability.loading(entry.name, entry.version);
  }
  for (const model of repository.values()) {
    const unloaded = unloadedAtStart.get(model.name) ?? new Set<string>();
    for (const entry of model.versions) {
      if (unloaded.has(entry.version)) continue;
      if (entry.state !== 'available') {
        logger.error({ model: entry.name, version: entry.version, reason: entry.reason }, 'model version refused');
        await refuseVersion(entry);
        refusedAtStart.push(entry);
        continue;
      }
      await loadVersion(entry);
    }
  }
  const hotLoaderSubscriber = createBlockingConnection(config.redisUrl);
  connections.push(hotLoaderSubscriber);
  hotLoader = new HotLoader({
    modelDir: config.modelDir,
    models: [...repository.keys()],
    intervalMs: config.modelRescanMs,
    subscriber: hotLoaderSubscriber,
    keys,
    logger: logger.child({ component: 'hot-loader' }),
    loaded: (model) => loading.get(model) ?? new Set(),
    load: async (entry) => {
      const ready = await loadVersion(entry);
      await announce(entry.name, entry.version, ready ? 'ready' : 'failed');
      return ready;
    },
    refuse: async (entry) => {
      await refuseVersion(entry);
      await announce(entry.name, entry.version, 'refused');
    },
  });
  for (const entry of refusedAtStart) await hotLoader.noteRefused(entry);
  const queues = new Map<string, Queue<QueuePayload>>();
  const unloader = new VersionUnloader({
    queue: (model) => {
      const queue = queues.get(model) ?? new Queue<QueuePayload>(keys.modelQueue(model), { connection: redis, prefix: keys.prefix });
      queues.set(model, queue);
      return queue;
    },
    runners: (model) => served.get(model),
    dropped: async (model, version) => {
      const index = runners.findIndex((r) => r.entry.name === model && r.entry.version === version);
      if (index >= 0) runners.splice(index, 1);
      await heartbeat.remove(model, version);
      await announce(model, version, 'unloaded');
    },
    logger: logger.child({ component: 'unloader' }),
  });
  const modelsChanged = keys.modelsChangedChannel();
  hotLoaderSubscriber.on('message', (channel: string, message: string) => {
    if (channel !== modelsChanged) return;
    const change = decodeModelsChanged(message);
    if (change?.state !== 'unloading') return;
    loading.get(change.model)?.add(change.version);
    void unloader.unload(change.model, change.version);
  });
  await hotLoader.start();
  if (modelWorkers.length === 0) logger.warn('no model version could be loaded: this worker takes no jobs');

  // Every worker takes schedule ticks. A tick may score any model, so it sees the whole repository.
  const scheduleConnection = createBlockingConnection(config.redisUrl);
  connections.push(scheduleConnection);
  const schedules = new ScheduleRunner({
    config,
    keys,
    store: batchStore,
    models: allModels,
    producer: redis,
    policies,
    connection: scheduleConnection,
    logger: logger.child({ component: 'schedules' }),
    images: new ImageScorer(requests, waiter, config.maxImagePixels),
  });
  schedules.start();

  const healthServer = config.workerHealthPort ? await startHealthServer(config.workerHealthPort, heartbeat, metrics) : undefined;

  return {
    workerId,
    heartbeat,
    async stop() {
      // Ticks first: a running tick waits for its batch, which needs the model workers still up.
      hotLoader?.close();
      await Promise.all([...queues.values()].map((q) => q.close()));
      await schedules.close();
      await Promise.all(modelWorkers.map((w) => w.close()));
      await requests.close();
      await webhooks.close();
      await Promise.all(runners.map((r) => r.close()));
      await heartbeat.stop();
      healthServer?.close();
      await Promise.all(connections.map((c) => c.quit().catch(() => c.disconnect())));
    },
  };
}

async function startHealthServer(port: number, heartbeat: WorkerHeartbeat, metrics: WorkerMetrics): Promise<Server> {
  const server = createServer((req, res) => {
    const versions = heartbeat.all();
    const ready = versions.length > 0 && versions.every((v) => v.state === 'ready');
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.url === '/healthz') return send(200, { status: 'ok' });
    if (req.url === '/metrics') return void sendMetrics(res, metrics);
    if (req.url === '/readyz') return send(ready ? 200 : 503, { status: ready ? 'ready' : 'not_ready', worker_id: heartbeat.workerId, versions });
    send(404, { error: { code: 'NOT_FOUND', message: 'No such route.' } });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(error.code === 'EADDRINUSE' ? new ConfigError([`INFERQ_WORKER_HEALTH_PORT=${port}: the port is already in use`]) : error),
    );
    server.listen(port, () => resolve());
  });
  return server;
}

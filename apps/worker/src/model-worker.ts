import { DelayedError, Worker, type Job } from 'bullmq';
import { InferqError } from '@inferq/core/errors';
import type { BundledRequest, ChunkPayload, FinishedJobRecord, JobPayload, JobTimings, QueuePayload, ShadowBundlePayload, ShadowPayload } from '@inferq/core/job-types';
import type { Keyspace } from '@inferq/core/keyspace';
import type { Logger } from '@inferq/core/logger';
import { isRedisOutOfMemoryError, type Redis } from '@inferq/core/redis-connection';
import type { ImageLimits } from '@inferq/inference/image-preprocess';
import type { RawTensor } from '@inferq/inference/tensor-codec';
import { finishedRecord } from '@inferq/jobs/finished-record';
import type { JobStore } from '@inferq/jobs/job-store';
import { describeInputs, jobPredictionEntry, predictionEntry, predictionOf } from '@inferq/jobs/prediction-entry';
import type { PredictionLogWriter } from '@inferq/core/prediction-log-script';
import type { ChunkRunner } from './chunk-runner.ts';
import type { PipelineRunner } from './pipeline-runner.ts';
import type { HealthRecorder } from './health-recorder.ts';
import { decodeJob, type DecodedJob } from './job-decoder.ts';
import type { ShadowHalf, ShadowLog } from './shadow-log.ts';
import type { ResultWriter } from './result-writer.ts';
import type { VersionOutlook } from './version-availability.ts';
import type { VersionRunner } from './version-runner.ts';

/** How long a job for a version that is loading (here or elsewhere) waits in the delayed set before it is taken again. */
const VERSION_WAIT_MS = 1000;
/** How long a bundle Redis had no memory to start waits before it is taken again. */
const STORAGE_WAIT_MS = 2000;
/** How often one worker sends a job back for a version only other workers have, before it gives up on it. */
const MAX_DEFERRALS_FOR_ELSEWHERE = 30;

export interface ModelWorkerOptions {
  model: string;
  runners: Map<string, VersionRunner>;
  connection: Redis;
  keys: Keyspace;
  store: JobStore;
  resultWriter: ResultWriter;
  /** Scores batch chunks, which share the model's queue with single jobs. */
  chunks: ChunkRunner;
  logger: Logger;
  /** Queue jobs (bundles) held in flight; enough to fill every thread's next batch while the current ones run. */
  concurrency: number;
  lockDurationMs: number;
  stalledIntervalMs: number;
  /** Largest rows per job the worker accepts (the API enforces the same limit). */
  maxRowsPerJob: number;
  imageLimits: ImageLimits;
  /** Records each job's outcome in its version's shared health window. */
  health?: HealthRecorder;
  /** Pairs shadowed jobs' answers with their shadow copies'. */
  shadowLog?: ShadowLog;
  /** Log each finished request to the prediction log (in its result's script call), and shadow runs through this writer. */
  predictionLog?: { shadows: PredictionLogWriter } | undefined;
  /** Told when a job names a version this worker lacks (the hot loader rescans). */
  onMissingVersion?: (version: string) => void;
  /**
   * Given the requests of a retried bundle that already have a record and name a webhook:
   * announces those whose announcement was lost (a worker killed between storing the records
   * and queueing their deliveries), and no other.
   */
  announceMissed?: (requests: BundledRequest[]) => Promise<void>;
  /**
   * For a job whose version this worker has no runner for: whether the version is loading here,
   * ready on another worker, or nowhere. The job goes back to the queue in the first two cases.
   * Absent: the job is handled as if the version were nowhere.
   */
  versionOutlook?: (version: string) => Promise<VersionOutlook>;
  /** Set when the queue is a pipeline's, by version: each request runs through its stages instead of on a model version. */
  pipelines?: Map<string, PipelineRunner>;
}

/** What processing a request logs through: a logger scoped to the request, created only when used. */
interface JobLog {
  warn(fields: object, message: string): void;
  info(fields: object, message: string): void;
}

interface Finish {
  status: FinishedJobRecord['status'];
  result?: unknown;
  error?: InferqError;
  startedAt: number | null;
  timings?: JobTimings;
  batchSize?: number;
  /** The version that answered (default: the bundle's own). */
  version?: string;
  /** Set when the fallback answered for the routed version. */
  fallbackFrom?: { version: string; reason: string } | undefined;
}

/** One request being processed: its payload, the queue job (bundle) that carries it, and whether this is that job's last attempt. */
interface RequestRun {
  job: Job<QueuePayload>;
  request: BundledRequest;
  lastAttempt: boolean;
  log: JobLog;
}

/** The requests a queue job carries: a bundle's, or a job queued alone before bundles (its id is the job's). */
function requestsOf(job: Job<QueuePayload>): { requests: BundledRequest[]; counters: string[] } | undefined {
  const data = job.data;
  if (data.kind === 'bundle') {
    if (!Array.isArray(data.requests)) return undefined;
    return { requests: data.requests, counters: data.counted_in ?? [] };
  }
  if (data.kind === undefined) {
    const { backlog_key, kind: _kind, ...request } = data as JobPayload;
    return { requests: [{ ...request, id: job.id as string }], counters: backlog_key ? [backlog_key] : [] };
  }
  return undefined;
}

const errorName = (error: Error) => (error instanceof Error ? error.name : '');

/**
 * The BullMQ worker of one model's queue. A queue job is a bundle of requests: the requests that
 * already have a record (canceled, or finished by an earlier attempt) are skipped; the others are
 * decoded and handed to their version's batcher on their own, and each one's record is written
 * (only if it has none yet) before BullMQ hears the bundle is done, so a result is never lost or
 * changed between the two. Bad input fails its request alone; an infrastructure failure (a
 * crashed inference thread) fails the attempt, and BullMQ retries the bundle.
 */
export class ModelWorker {
  private readonly worker: Worker<QueuePayload>;
  readonly model: string;
  /** Times this worker sent a job back for a version only other workers have, by job id. */
  private readonly deferrals = new Map<string, number>();

  constructor(private readonly options: ModelWorkerOptions) {
    this.model = options.model;
    this.worker = new Worker<QueuePayload>(options.keys.modelQueue(options.model), (job, token) => this.process(job, token), {
      connection: options.connection,
      prefix: options.keys.prefix,
      concurrency: options.concurrency,
      lockDuration: options.lockDurationMs,
      stalledInterval: options.stalledIntervalMs,
      maxStalledCount: 2,
      autorun: false,
    });
    this.worker.on('failed', (job, error) => {
      if (!job) return;
      // A bundle given up for good (attempts used up, or stalled more often than allowed: BullMQ
      // fails that one with an UnrecoverableError before it ever reaches us) must still answer
      // every one of its requests; those that have a record keep it.
      const final = errorName(error) === 'UnrecoverableError' || job.attemptsMade >= (job.opts.attempts ?? 1);
      if (!final) return;
      const carried = requestsOf(job);
      if (!carried) return;
      const lost = /stalled/i.test(error.message);
      const failure = lost
        ? new InferqError('WORKER_LOST', `the job's worker died or stalled more often than allowed (${error.message}); it was not finished`)
        : new InferqError('INTERNAL', `job failed after ${job.attemptsMade} attempts: ${error.message}`);
      options.logger.error({ bundle_id: job.id, requests: carried.requests.length, code: failure.code, err: error.message }, 'bundle given up: its unfinished requests fail');
      for (const request of carried.requests) {
        void this.finish(job, request, { status: 'failed', error: failure, startedAt: job.processedOn ?? null }).catch((e: Error) =>
          options.logger.error({ job_id: request.id, err: e }, 'could not record a failed job'),
        );
      }
    });
    this.worker.on('error', (error) => options.logger.error({ err: error }, 'queue worker error'));
  }

  start(): void {
    void this.worker.run();
  }

  /** Stops taking jobs and waits for in-flight ones to finish. */
  close(): Promise<void> {
    return this.worker.close();
  }

  private async process(job: Job<QueuePayload>, token: string | undefined): Promise<void> {
    const runnable = this.options.runners.has(job.name) || this.options.pipelines?.has(job.name) === true;
    if (!runnable && token !== undefined && (await this.sendBack(job, token))) throw new DelayedError();
    if (job.id !== undefined) this.deferrals.delete(job.id);
    const data = job.data;
    if (data.kind === 'chunk') return this.options.chunks.run(job as Job<ChunkPayload>, this.options.runners.get(job.name));
    if (data.kind === 'shadow') return this.processShadow(job.name, job.timestamp, data);
    if (data.kind === 'shadows') {
      await Promise.all((data as ShadowBundlePayload).copies.map((copy) => this.processShadow(job.name, copy.created_at, { kind: 'shadow', ...copy })));
      return;
    }
    const carried = requestsOf(job);
    if (!carried) throw new InferqError('INVALID_REQUEST', `queue job ${job.id} is not a bundle inferq knows`);
    return this.processBundle(job, carried.requests, carried.counters, token);
  }

  /**
   * A job for a version this worker cannot run yet goes back to the queue (delayed, no attempt
   * used) while the version loads here, or, a bounded number of times, while another worker has
   * it ready; it is left to fail MODEL_VERSION_UNAVAILABLE only when no worker can serve it.
   */
  private async sendBack(job: Job<QueuePayload>, token: string): Promise<boolean> {
    const outlook = (await this.options.versionOutlook?.(job.name)) ?? 'nowhere';
    if (outlook === 'nowhere') return false;
    if (outlook === 'ready-elsewhere') {
      const id = job.id ?? '';
      const times = (this.deferrals.get(id) ?? 0) + 1;
      if (times > MAX_DEFERRALS_FOR_ELSEWHERE) {
        this.deferrals.delete(id);
        return false;
      }
      if (this.deferrals.size > 10_000) this.deferrals.clear();
      this.deferrals.set(id, times);
    }
    await job.moveToDelayed(Date.now() + VERSION_WAIT_MS, token);
    return true;
  }

  private async processBundle(job: Job<QueuePayload>, requests: BundledRequest[], counters: string[], token: string | undefined): Promise<void> {
    // Uncounted from the queue depth once, when first taken (not again after a crash or a retry).
    const firstTake = job.attemptsMade === 0 && !job.stalledCounter;
    let done: boolean[];
    try {
      done = await this.options.store.takeBundle(
        String(job.id),
        requests.map((r) => r.id),
        firstTake && counters.length > 0 ? { counters, count: requests.length } : undefined,
      );
    } catch (error) {
      // Redis is full: nothing was taken, so the bundle waits for memory without using an attempt.
      if (!isRedisOutOfMemoryError(error) || token === undefined) throw error;
      await job.moveToDelayed(Date.now() + STORAGE_WAIT_MS, token);
      throw new DelayedError();
    }
    if (!firstTake && this.options.announceMissed) {
      const finished = requests.filter((r, i) => done[i] && r.webhook);
      if (finished.length > 0) await this.options.announceMissed(finished);
    }
    const todo = requests.filter((_, i) => !done[i]);
    if (todo.length === 0) return;
    const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    const outcomes = await Promise.allSettled(todo.map((request) => this.processRequest({ job, request, lastAttempt, log: this.requestLog(job, request) })));
    // An infrastructure failure: the bundle is retried, and the requests finished now are skipped then.
    const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failed) throw failed.reason;
  }

  private requestLog(job: Job<QueuePayload>, request: BundledRequest): JobLog {
    // Built on first use: most requests never log, and a child logger per job was 5 % of the worker's CPU.
    let scoped: Logger | undefined;
    const logger = () => (scoped ??= this.options.logger.child({ job_id: request.id, bundle_id: job.id, model: this.options.model, version: job.name, request_id: request.request_id }));
    return {
      warn: (fields: object, message: string) => logger().warn(fields, message),
      info: (fields: object, message: string) => logger().info(fields, message),
    };
  }

  /** The fallback's runner, for a routed request whose policy names one other than its own version. */
  private fallbackFor(request: BundledRequest, failed: string): VersionRunner | undefined {
    const fallback = request.fallback_version;
    return fallback !== undefined && fallback !== failed ? this.options.runners.get(fallback) : undefined;
  }

  /** Resolves once the request's record is written; rejects (bundle retried) on an infrastructure failure. */
  private async processRequest(run: RequestRun): Promise<void> {
    const { job, request, log } = run;
    const startedAt = Date.now();
    if (request.deadline_at !== undefined && startedAt > request.deadline_at) {
      const late = startedAt - request.deadline_at;
      return this.failForGood(run, null, new InferqError('DEADLINE_EXCEEDED', `the job reached a worker ${late} ms after its deadline; it was not run`, { details: { deadline_at: new Date(request.deadline_at).toISOString() } }));
    }
    const pipeline = this.options.pipelines?.get(job.name);
    if (pipeline) return this.runPipeline(run, pipeline, startedAt);
    const runner = this.options.runners.get(job.name);
    if (!runner) {
      this.options.health?.record(this.options.model, job.name, { ok: false, queueMs: startedAt - request.created_at });
      const fallback = this.fallbackFor(request, job.name);
      const reason = `this worker has no ready version ${job.name} of ${this.options.model}`;
      if (fallback) {
        log.warn({ fallback: fallback.entry.version }, `${reason}: running the job on the fallback version`);
        return this.runOn(run, fallback, startedAt, { version: job.name, reason });
      }
      // Another worker may have hot-loaded the version first: look for it, and let BullMQ retry the bundle.
      if (!run.lastAttempt && this.options.onMissingVersion) {
        this.options.onMissingVersion(job.name);
        log.warn({ attempt: job.attemptsMade + 1 }, `${reason}: rescanning the model repository, the job will be retried`);
        throw new Error(reason);
      }
      return this.failForGood(run, startedAt, new InferqError('MODEL_VERSION_UNAVAILABLE', reason));
    }
    return this.runOn(run, runner, startedAt);
  }

  /**
   * Runs a request on one version. A routed request whose version fails for an infrastructure
   * reason (a session.run error, a crashed thread) is re-run at once on the policy's fallback
   * version, and its record says so; without a fallback, the failure is handled as before.
   */
  private async runOn(run: RequestRun, runner: VersionRunner, startedAt: number, fallbackFrom?: { version: string; reason: string }): Promise<void> {
    const { job, request, log } = run;
    const version = runner.entry.version;
    const queueMs = Math.max(0, startedAt - request.created_at);
    const fallback = fallbackFrom ? undefined : this.fallbackFor(request, version);
    const routing = { version, fallbackFrom };
    let decoded: DecodedJob;
    try {
      decoded = await decodeJob(request, runner, this.options);
    } catch (error) {
      const failure = error instanceof InferqError ? error : new InferqError('INVALID_REQUEST', (error as Error).message);
      return this.failForGood(run, startedAt, failure, routing);
    }
    let outcome;
    try {
      outcome = await runner.batcher.submit(decoded.feeds, decoded.rows, decoded.batchKey);
    } catch (error) {
      this.options.health?.record(this.options.model, version, { ok: false, queueMs });
      if (fallback) {
        log.warn({ err: error, fallback: fallback.entry.version }, 'inference failed for infrastructure reasons: running the job on the fallback version');
        return this.runOn(run, fallback, startedAt, { version, reason: (error as Error).message });
      }
      log.warn({ err: error, attempt: job.attemptsMade + 1, last_attempt: run.lastAttempt }, 'inference failed for infrastructure reasons');
      if (run.lastAttempt) {
        await this.finish(job, request, { status: 'failed', startedAt, error: new InferqError('INTERNAL', (error as Error).message), ...routing });
      }
      throw error;
    }
    const finishedAt = Date.now();
    const timings: JobTimings = {
      queue_ms: queueMs,
      inference_ms: Math.round(outcome.inferenceMs * 1000) / 1000,
      total_ms: Math.max(0, finishedAt - request.created_at),
    };
    if (outcome.error) {
      this.options.health?.record(this.options.model, version, { ok: false, queueMs });
      const message = outcome.error.message.split('\n')[0] ?? 'session.run failed';
      if (fallback) {
        log.warn({ err: outcome.error, fallback: fallback.entry.version }, 'the routed version failed the job: running it on the fallback version');
        return this.runOn(run, fallback, startedAt, { version, reason: `session.run failed: ${message}` });
      }
      log.info({ err: outcome.error }, 'model rejected the input');
      const failure = new InferqError('INFERENCE_FAILED', message);
      await this.finish(job, request, { status: 'failed', error: failure, startedAt, timings, batchSize: outcome.batchRows, ...routing });
      void this.shadowHalf(request, { version, ok: false, error_code: failure.code, inference_ms: null });
      return;
    }
    this.options.health?.record(this.options.model, version, { ok: true, queueMs, inferenceMs: outcome.inferenceMs });
    let result: unknown;
    try {
      result = runner.results.build(request.response, outcome.outputs as Record<string, RawTensor>, {
        includeOutputs: request.include_outputs === true,
        ...(decoded.notes ? { notes: decoded.notes } : {}),
      });
    } catch (error) {
      // An output no answer can be made of (NaN, infinity): this request fails, for good and alone.
      if (!(error instanceof InferqError)) throw error;
      return this.failForGood(run, startedAt, error, routing);
    }
    await this.finish(job, request, { status: 'succeeded', result, startedAt, timings, batchSize: outcome.batchRows, ...routing });
    void this.shadowHalf(request, { version, ok: true, result, inference_ms: timings.inference_ms });
  }

  /** A pipeline request: its stages run as requests on their models' queues; its record carries each stage's timing. */
  private async runPipeline(run: RequestRun, pipeline: PipelineRunner, startedAt: number): Promise<void> {
    const { job, request } = run;
    const outcome = await pipeline.run(request, job.opts.priority ?? 0);
    const timings: JobTimings = {
      queue_ms: Math.max(0, startedAt - request.created_at),
      inference_ms: outcome.inferenceMs,
      total_ms: Math.max(0, Date.now() - request.created_at),
      stages: outcome.stages,
    };
    if (outcome.error) run.log.info({ code: outcome.error.code }, outcome.error.message);
    await this.finish(job, request, { status: outcome.status, startedAt, timings, ...(outcome.result !== undefined ? { result: outcome.result } : {}), ...(outcome.error ? { error: outcome.error } : {}) });
  }

  private async shadowHalf(request: BundledRequest, half: ShadowHalf): Promise<void> {
    if (request.shadow_version && this.options.shadowLog) await this.options.shadowLog.record(this.options.model, request.id, 'primary', half);
  }

  /**
   * A shadow copy: run on its version like any request, but its answer only goes to the shadow
   * log beside the primary's. It never writes a result, never retries, and never fails the client.
   */
  private async processShadow(version: string, createdAt: number, copy: ShadowPayload): Promise<void> {
    const startedAt = Date.now();
    const runner = this.options.runners.get(version);
    const record = async (half: ShadowHalf) => {
      await this.logShadow(version, copy, startedAt, half, runner);
      await this.options.shadowLog?.record(this.options.model, copy.primary_job_id, 'shadow', half);
    };
    if (!runner) {
      await record({ version, ok: false, error_code: 'MODEL_VERSION_UNAVAILABLE', inference_ms: null });
      return;
    }
    try {
      const decoded = await decodeJob(copy, runner, this.options);
      const outcome = await runner.batcher.submit(decoded.feeds, decoded.rows, decoded.batchKey);
      const queueMs = Math.max(0, startedAt - createdAt);
      if (outcome.error) {
        this.options.health?.record(this.options.model, version, { ok: false, queueMs });
        await record({ version, ok: false, error_code: 'INFERENCE_FAILED', inference_ms: null });
        return;
      }
      this.options.health?.record(this.options.model, version, { ok: true, queueMs, inferenceMs: outcome.inferenceMs });
      const result = runner.results.build(copy.response, outcome.outputs as Record<string, RawTensor>, decoded.notes ? { notes: decoded.notes } : {});
      await record({ version, ok: true, result, inference_ms: Math.round(outcome.inferenceMs * 1000) / 1000 });
    } catch (error) {
      await record({ version, ok: false, error_code: error instanceof InferqError ? error.code : 'INTERNAL', inference_ms: null });
    }
  }

  private logEntry(record: FinishedJobRecord, request: BundledRequest) {
    try {
      return jobPredictionEntry(record, request, this.options.runners.get(record.model_version)?.manifest);
    } catch (error) {
      // An input the log cannot describe (it failed validation too) must not keep its record from being stored.
      this.options.logger.warn({ job_id: record.job_id, err: (error as Error).message }, 'prediction not logged');
      return undefined;
    }
  }

  /** A shadow run's prediction, marked as such; never fails the shadow run itself. */
  private async logShadow(version: string, copy: ShadowPayload, startedAt: number, half: ShadowHalf, runner: VersionRunner | undefined): Promise<void> {
    const writer = this.options.predictionLog?.shadows;
    if (!writer) return;
    try {
      const manifest = runner?.manifest;
      const entry = predictionEntry(
        { id: `${copy.primary_job_id}~shadow`, tenant: copy.tenant ?? 'default', model: this.options.model, version },
        {
          job_id: copy.primary_job_id,
          ...(copy.request_id ? { request_id: copy.request_id } : {}),
          ...(copy.routing_key ? { routing_key: copy.routing_key } : {}),
          shadow: true,
          status: half.ok ? 'succeeded' : 'failed',
          ...(half.error_code ? { error_code: half.error_code } : {}),
          created_at: copy.created_at,
          queue_ms: Math.max(0, startedAt - copy.created_at),
          inference_ms: half.inference_ms,
          total_ms: Math.max(0, Date.now() - copy.created_at),
          batch_size: null,
          ...(half.result !== undefined ? { prediction: predictionOf(half.result) } : {}),
        },
        manifest,
        manifest ? describeInputs(manifest, copy.inputs, copy.image) : undefined,
        { labelled: false },
      );
      if (entry) await writer.write([entry]);
    } catch (error) {
      this.options.logger.warn({ job_id: copy.primary_job_id, err: (error as Error).message }, 'shadow prediction not logged');
    }
  }

  /** Bad input, a missed deadline, a version that cannot serve: the request fails for good, alone. */
  private async failForGood(run: RequestRun, startedAt: number | null, error: InferqError, routing?: { version: string; fallbackFrom: { version: string; reason: string } | undefined }): Promise<void> {
    run.log.info({ code: error.code }, error.message);
    await this.finish(run.job, run.request, { status: 'failed', error, startedAt, ...routing });
  }

  private finish(job: Job<QueuePayload>, request: BundledRequest, finish: Finish): Promise<void> {
    const { record, ttlMs } = finishedRecord(
      {
        jobId: request.id,
        status: finish.status,
        model: this.options.model,
        version: finish.version ?? job.name,
        createdAt: request.created_at,
        startedAt: finish.startedAt,
        ...(finish.timings ? { timings: finish.timings } : {}),
        ...(finish.batchSize !== undefined ? { batchSize: finish.batchSize } : {}),
        ...(request.routed_by ? { routedBy: request.routed_by } : {}),
        ...(finish.fallbackFrom ? { fallbackFrom: finish.fallbackFrom } : {}),
        ...(finish.result !== undefined ? { result: finish.result } : {}),
        ...(finish.error ? { error: finish.error.toBody() } : {}),
        ...(request.metadata ? { metadata: request.metadata } : {}),
        ...(request.tenant ? { tenant: request.tenant } : {}),
      },
      request.ttl_ms,
    );
    // The webhook and the log entry travel with the record: announced and logged only if it is stored.
    const log = this.options.predictionLog ? this.logEntry(record, request) : undefined;
    return this.options.resultWriter.write(record, ttlMs, request.webhook, log);
  }
}

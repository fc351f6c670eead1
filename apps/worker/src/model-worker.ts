import { Worker, UnrecoverableError, type Job } from 'bullmq';
import { InferqError, type ErrorCode } from '@inferq/core/errors';
import type { ChunkPayload, FinishedJobRecord, JobPayload, JobTimings, QueuePayload, ShadowPayload } from '@inferq/core/job-types';
import type { Keyspace } from '@inferq/core/keyspace';
import type { Logger } from '@inferq/core/logger';
import type { Redis } from '@inferq/core/redis-connection';
import type { ImageLimits } from '@inferq/inference/image-preprocess';
import type { RawTensor } from '@inferq/inference/tensor-codec';
import type { ChunkRunner } from './chunk-runner.ts';
import type { HealthRecorder } from './health-recorder.ts';
import { decodeJob, type DecodedJob } from './job-decoder.ts';
import type { ShadowHalf, ShadowLog } from './shadow-log.ts';
import type { ResultWriter } from './result-writer.ts';
import type { VersionRunner } from './version-runner.ts';

export interface ModelWorkerOptions {
  model: string;
  runners: Map<string, VersionRunner>;
  connection: Redis;
  keys: Keyspace;
  resultWriter: ResultWriter;
  /** Scores batch chunks, which share the model's queue with single jobs. */
  chunks: ChunkRunner;
  logger: Logger;
  /** Jobs held in flight; enough to fill every thread's next batch while the current ones run. */
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
  /** Told when a job names a version this worker lacks (the hot loader rescans). */
  onMissingVersion?: (version: string) => void;
}

/** What processing a job logs through: a logger scoped to the job, created only when used. */
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
  /** The version that answered (default: the job's own). */
  version?: string;
  /** Set when the fallback answered for the routed version. */
  fallbackFrom?: { version: string; reason: string } | undefined;
}

/**
 * The BullMQ worker of one model's queue. Each job is decoded, handed to its version's batcher,
 * and its outcome written before BullMQ is told the job is done, so a result is never lost
 * between the two. Bad input fails for good (UnrecoverableError); a crashed inference thread is
 * an ordinary error, and BullMQ retries the job.
 */
export class ModelWorker {
  private readonly worker: Worker<QueuePayload>;
  readonly model: string;

  constructor(private readonly options: ModelWorkerOptions) {
    this.model = options.model;
    this.worker = new Worker<QueuePayload>(options.keys.modelQueue(options.model), (job) => this.process(job), {
      connection: options.connection,
      prefix: options.keys.prefix,
      concurrency: options.concurrency,
      lockDuration: options.lockDurationMs,
      stalledInterval: options.stalledIntervalMs,
      maxStalledCount: 2,
      autorun: false,
    });
    this.worker.on('failed', (job, error) => {
      // Stalled too often, or failed outside our processor: make sure the client gets an answer.
      if (!job || error instanceof UnrecoverableError || job.data.kind === 'chunk' || job.data.kind === 'shadow') return;
      if (job.attemptsMade < (job.opts.attempts ?? 1) && !/stalled/i.test(error.message)) return;
      const failure = new InferqError('INTERNAL', `job failed after ${job.attemptsMade} attempts: ${error.message}`);
      void this.finish(job as Job<JobPayload>, { status: 'failed', error: failure, startedAt: job.processedOn ?? null }, true).catch((e: Error) =>
        options.logger.error({ job_id: job.id, err: e }, 'could not record a failed job'),
      );
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

  private async process(job: Job<QueuePayload>): Promise<void> {
    if (job.data.kind === 'chunk') return this.options.chunks.run(job as Job<ChunkPayload>, this.options.runners.get(job.name));
    if (job.data.kind === 'shadow') return this.processShadow(job as Job<ShadowPayload>);
    return this.processJob(job as Job<JobPayload>);
  }

  /** The fallback's runner, for a routed job whose policy names one other than its own version. */
  private fallbackFor(job: Job<JobPayload>, failed: string): VersionRunner | undefined {
    const fallback = job.data.fallback_version;
    return fallback !== undefined && fallback !== failed ? this.options.runners.get(fallback) : undefined;
  }

  private async processJob(job: Job<JobPayload>): Promise<void> {
    const startedAt = Date.now();
    // Built on first use: most jobs never log, and a child logger per job was 5 % of the worker's CPU.
    let scoped: Logger | undefined;
    const log: JobLog = {
      warn: (fields: object, message: string) => (scoped ??= this.jobLogger(job)).warn(fields, message),
      info: (fields: object, message: string) => (scoped ??= this.jobLogger(job)).info(fields, message),
    };
    if (job.data.deadline_at !== undefined && startedAt > job.data.deadline_at) {
      const late = startedAt - job.data.deadline_at;
      return this.failForGood(job, null, new InferqError('DEADLINE_EXCEEDED', `the job reached a worker ${late} ms after its deadline; it was not run`, { details: { deadline_at: new Date(job.data.deadline_at).toISOString() } }));
    }
    const runner = this.options.runners.get(job.name);
    if (!runner) {
      this.options.health?.record(this.options.model, job.name, { ok: false, queueMs: startedAt - job.timestamp });
      const fallback = this.fallbackFor(job, job.name);
      const reason = `this worker has no ready version ${job.name} of ${this.options.model}`;
      if (fallback) {
        log.warn({ fallback: fallback.entry.version }, `${reason}: running the job on the fallback version`);
        return this.runOn(job, fallback, startedAt, log, { version: job.name, reason });
      }
      // Another worker may have hot-loaded the version first: look for it, and let BullMQ retry the job.
      const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      if (!lastAttempt && this.options.onMissingVersion) {
        this.options.onMissingVersion(job.name);
        log.warn({ attempt: job.attemptsMade + 1 }, `${reason}: rescanning the model repository, the job will be retried`);
        throw new Error(reason);
      }
      return this.failForGood(job, startedAt, new InferqError('MODEL_VERSION_UNAVAILABLE', reason));
    }
    return this.runOn(job, runner, startedAt, log);
  }

  /**
   * Runs a job on one version. A routed job whose version fails for an infrastructure reason (a
   * session.run error, a crashed thread) is re-run at once on the policy's fallback version,
   * and its record says so; without a fallback, the failure is handled as before.
   */
  private async runOn(job: Job<JobPayload>, runner: VersionRunner, startedAt: number, log: JobLog, fallbackFrom?: { version: string; reason: string }): Promise<void> {
    const version = runner.entry.version;
    const queueMs = Math.max(0, startedAt - job.timestamp);
    const fallback = fallbackFrom ? undefined : this.fallbackFor(job, version);
    const routing = { version, fallbackFrom };
    let decoded: DecodedJob;
    try {
      decoded = await decodeJob(job.data, runner, this.options);
    } catch (error) {
      const failure = error instanceof InferqError ? error : new InferqError('INVALID_REQUEST', (error as Error).message);
      return this.failForGood(job, startedAt, failure, routing);
    }
    let outcome;
    try {
      outcome = await runner.batcher.submit(decoded.feeds, decoded.rows, decoded.batchKey);
    } catch (error) {
      this.options.health?.record(this.options.model, version, { ok: false, queueMs });
      if (fallback) {
        log.warn({ err: error, fallback: fallback.entry.version }, 'inference failed for infrastructure reasons: running the job on the fallback version');
        return this.runOn(job, fallback, startedAt, log, { version, reason: (error as Error).message });
      }
      const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      log.warn({ err: error, attempt: job.attemptsMade + 1, last_attempt: lastAttempt }, 'inference failed for infrastructure reasons');
      if (lastAttempt) {
        await this.finish(job, { status: 'failed', startedAt, error: new InferqError('INTERNAL', (error as Error).message), ...routing });
      }
      throw error;
    }
    const finishedAt = Date.now();
    const timings: JobTimings = {
      queue_ms: queueMs,
      inference_ms: Math.round(outcome.inferenceMs * 1000) / 1000,
      total_ms: Math.max(0, finishedAt - job.data.created_at),
    };
    if (outcome.error) {
      this.options.health?.record(this.options.model, version, { ok: false, queueMs });
      const message = outcome.error.message.split('\n')[0] ?? 'session.run failed';
      if (fallback) {
        log.warn({ err: outcome.error, fallback: fallback.entry.version }, 'the routed version failed the job: running it on the fallback version');
        return this.runOn(job, fallback, startedAt, log, { version, reason: `session.run failed: ${message}` });
      }
      log.info({ err: outcome.error }, 'model rejected the input');
      const failure = new InferqError('INFERENCE_FAILED', message);
      await this.finish(job, { status: 'failed', error: failure, startedAt, timings, batchSize: outcome.batchRows, ...routing });
      void this.shadowHalf(job, { version, ok: false, error_code: failure.code, inference_ms: null });
      throw new UnrecoverableError(failure.code);
    }
    this.options.health?.record(this.options.model, version, { ok: true, queueMs, inferenceMs: outcome.inferenceMs });
    const result = runner.results.build(job.data.response, outcome.outputs as Record<string, RawTensor>, {
      includeOutputs: job.data.include_outputs === true,
      ...(decoded.notes ? { notes: decoded.notes } : {}),
    });
    await this.finish(job, { status: 'succeeded', result, startedAt, timings, batchSize: outcome.batchRows, ...routing });
    void this.shadowHalf(job, { version, ok: true, result, inference_ms: timings.inference_ms });
  }

  private async shadowHalf(job: Job<JobPayload>, half: ShadowHalf): Promise<void> {
    if (job.data.shadow_version && this.options.shadowLog) await this.options.shadowLog.record(this.options.model, job.id as string, 'primary', half);
  }

  /**
   * A shadow copy: run on its version like any job, but its answer only goes to the shadow log
   * beside the primary's. It never writes a result, never retries, and never fails the client.
   */
  private async processShadow(job: Job<ShadowPayload>): Promise<void> {
    const startedAt = Date.now();
    const runner = this.options.runners.get(job.name);
    const record = (half: ShadowHalf) => this.options.shadowLog?.record(this.options.model, job.data.primary_job_id, 'shadow', half);
    if (!runner) {
      await record({ version: job.name, ok: false, error_code: 'MODEL_VERSION_UNAVAILABLE', inference_ms: null });
      return;
    }
    try {
      const decoded = await decodeJob(job.data, runner, this.options);
      const outcome = await runner.batcher.submit(decoded.feeds, decoded.rows, decoded.batchKey);
      const queueMs = Math.max(0, startedAt - job.timestamp);
      if (outcome.error) {
        this.options.health?.record(this.options.model, job.name, { ok: false, queueMs });
        await record({ version: job.name, ok: false, error_code: 'INFERENCE_FAILED', inference_ms: null });
        return;
      }
      this.options.health?.record(this.options.model, job.name, { ok: true, queueMs, inferenceMs: outcome.inferenceMs });
      const result = runner.results.build(job.data.response, outcome.outputs as Record<string, RawTensor>, decoded.notes ? { notes: decoded.notes } : {});
      await record({ version: job.name, ok: true, result, inference_ms: Math.round(outcome.inferenceMs * 1000) / 1000 });
    } catch (error) {
      await record({ version: job.name, ok: false, error_code: error instanceof InferqError ? error.code : 'INTERNAL', inference_ms: null });
    }
  }

  private jobLogger(job: Job<JobPayload>): Logger {
    return this.options.logger.child({ job_id: job.id, model: this.options.model, version: job.name, request_id: job.data.request_id });
  }

  private async failForGood(job: Job<JobPayload>, startedAt: number | null, error: InferqError, routing?: { version: string; fallbackFrom: { version: string; reason: string } | undefined }): Promise<never> {
    this.options.logger.info({ job_id: job.id, code: error.code }, error.message);
    await this.finish(job, { status: 'failed', error, startedAt, ...routing });
    throw new UnrecoverableError(error.code satisfies ErrorCode);
  }

  private finish(job: Job<JobPayload>, finish: Finish, onlyIfAbsent = false): Promise<void> {
    const now = Date.now();
    const ttlMs = job.data.ttl_ms;
    const record: FinishedJobRecord = {
      job_id: job.id as string,
      status: finish.status,
      model: this.options.model,
      model_version: finish.version ?? job.name,
      created_at: new Date(job.data.created_at).toISOString(),
      started_at: finish.startedAt === null ? null : new Date(finish.startedAt).toISOString(),
      finished_at: new Date(now).toISOString(),
      timings: finish.timings ?? null,
      batch_size: finish.batchSize ?? null,
      ...(finish.fallbackFrom ? { routed_by: 'fallback' as const, fallback_from: finish.fallbackFrom } : job.data.routed_by ? { routed_by: job.data.routed_by } : {}),
      ...(finish.result !== undefined ? { result: finish.result } : {}),
      ...(finish.error ? { error: finish.error.toBody() } : {}),
      ...(job.data.metadata ? { metadata: job.data.metadata } : {}),
      ...(job.data.tenant ? { tenant: job.data.tenant } : {}),
      expires_at: new Date(now + ttlMs).toISOString(),
    };
    // The webhook travels with the record so it is announced only once the result is stored.
    return this.options.resultWriter.write(record, ttlMs, { onlyIfAbsent, webhook: job.data.webhook, backlogKey: job.data.backlog_key });
  }
}

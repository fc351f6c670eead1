import { Worker, UnrecoverableError, type Job } from 'bullmq';
import { InferqError, type ErrorCode } from '@inferq/core/errors';
import type { ChunkPayload, FinishedJobRecord, JobPayload, JobTimings, QueuePayload } from '@inferq/core/job-types';
import type { Keyspace } from '@inferq/core/keyspace';
import type { Logger } from '@inferq/core/logger';
import type { Redis } from '@inferq/core/redis-connection';
import { validateModelInput } from '@inferq/inference/input-validation';
import { preprocessImage, widthBucket, type ImageLimits } from '@inferq/inference/image-preprocess';
import type { ItemNotes } from '@inferq/inference/postprocess';
import { fromWire, type RawTensor } from '@inferq/inference/tensor-codec';
import type { ChunkRunner } from './chunk-runner.ts';
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
}

interface DecodedJob {
  feeds: Record<string, RawTensor>;
  rows: number;
  /** Jobs share a batch only with jobs of the same key. */
  batchKey: string;
  notes?: ItemNotes;
}

interface Finish {
  status: FinishedJobRecord['status'];
  result?: unknown;
  error?: InferqError;
  startedAt: number | null;
  timings?: JobTimings;
  batchSize?: number;
}

/**
 * The BullMQ worker of one model's queue. Each job is decoded, handed to its version's batcher,
 * and its outcome written before BullMQ is told the job is done, so a result is never lost
 * between the two. Bad input fails for good (UnrecoverableError); a crashed inference thread is
 * an ordinary error, and BullMQ retries the job.
 */
export class ModelWorker {
  private readonly worker: Worker<QueuePayload>;

  constructor(private readonly options: ModelWorkerOptions) {
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
      if (!job || error instanceof UnrecoverableError || job.data.kind === 'chunk') return;
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
    return this.processJob(job as Job<JobPayload>);
  }

  private async processJob(job: Job<JobPayload>): Promise<void> {
    const startedAt = Date.now();
    const log = this.options.logger.child({ job_id: job.id, model: this.options.model, version: job.name, request_id: job.data.request_id });
    if (job.data.deadline_at !== undefined && startedAt > job.data.deadline_at) {
      const late = startedAt - job.data.deadline_at;
      return this.failForGood(job, null, new InferqError('DEADLINE_EXCEEDED', `the job reached a worker ${late} ms after its deadline; it was not run`, { details: { deadline_at: new Date(job.data.deadline_at).toISOString() } }));
    }
    const runner = this.options.runners.get(job.name);
    if (!runner) {
      return this.failForGood(job, startedAt, new InferqError('MODEL_VERSION_UNAVAILABLE', `this worker has no ready version ${job.name} of ${this.options.model}`));
    }
    let decoded: DecodedJob;
    try {
      decoded = await this.decode(job, runner);
    } catch (error) {
      const failure = error instanceof InferqError ? error : new InferqError('INVALID_REQUEST', (error as Error).message);
      return this.failForGood(job, startedAt, failure);
    }
    let outcome;
    try {
      outcome = await runner.batcher.submit(decoded.feeds, decoded.rows, decoded.batchKey);
    } catch (error) {
      const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      log.warn({ err: error, attempt: job.attemptsMade + 1, last_attempt: lastAttempt }, 'inference failed for infrastructure reasons');
      if (lastAttempt) {
        await this.finish(job, { status: 'failed', startedAt, error: new InferqError('INTERNAL', (error as Error).message) });
      }
      throw error;
    }
    const finishedAt = Date.now();
    const timings: JobTimings = {
      queue_ms: Math.max(0, startedAt - job.timestamp),
      inference_ms: Math.round(outcome.inferenceMs * 1000) / 1000,
      total_ms: Math.max(0, finishedAt - job.data.created_at),
    };
    if (outcome.error) {
      log.info({ err: outcome.error }, 'model rejected the input');
      const failure = new InferqError('INFERENCE_FAILED', outcome.error.message.split('\n')[0]);
      await this.finish(job, { status: 'failed', error: failure, startedAt, timings, batchSize: outcome.batchRows });
      throw new UnrecoverableError(failure.code);
    }
    const result = runner.results.build(job.data.response, outcome.outputs as Record<string, RawTensor>, {
      includeOutputs: job.data.include_outputs === true,
      ...(decoded.notes ? { notes: decoded.notes } : {}),
    });
    await this.finish(job, { status: 'succeeded', result, startedAt, timings, batchSize: outcome.batchRows });
  }

  /** Re-checks the payload (a producer other than our API may have written it) and builds the feeds. */
  private async decode(job: Job<JobPayload>, runner: VersionRunner): Promise<DecodedJob> {
    const preprocess = runner.manifest.preprocess;
    if (job.data.image !== undefined) {
      if (!preprocess) throw new InferqError('IMAGE_NOT_SUPPORTED');
      const image = await preprocessImage(Buffer.from(job.data.image, 'base64'), preprocess, this.options.imageLimits);
      const width = image.tensor.dims[3] as number;
      return {
        feeds: { [preprocess.input]: image.tensor },
        rows: 1,
        batchKey: preprocess.width === 'dynamic' ? `w${widthBucket(width)}` : '',
        notes: image.notes,
      };
    }
    const validated = validateModelInput(runner.manifest, { inputs: job.data.inputs }, this.options.maxRowsPerJob);
    return {
      feeds: Object.fromEntries(validated.inputs.map((t) => [t.name, fromWire(t)])),
      rows: validated.rows,
      // Tensors of different shapes cannot be concatenated: only equal shapes batch together.
      batchKey: validated.inputs.map((t) => t.shape.slice(1).join('x')).join('|'),
    };
  }

  private async failForGood(job: Job<JobPayload>, startedAt: number | null, error: InferqError): Promise<never> {
    this.options.logger.info({ job_id: job.id, code: error.code }, error.message);
    await this.finish(job, { status: 'failed', error, startedAt });
    throw new UnrecoverableError(error.code satisfies ErrorCode);
  }

  private finish(job: Job<JobPayload>, finish: Finish, onlyIfAbsent = false): Promise<void> {
    const now = Date.now();
    const ttlMs = job.data.ttl_ms;
    const record: FinishedJobRecord = {
      job_id: job.id as string,
      status: finish.status,
      model: this.options.model,
      model_version: job.name,
      created_at: new Date(job.data.created_at).toISOString(),
      started_at: finish.startedAt === null ? null : new Date(finish.startedAt).toISOString(),
      finished_at: new Date(now).toISOString(),
      timings: finish.timings ?? null,
      batch_size: finish.batchSize ?? null,
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

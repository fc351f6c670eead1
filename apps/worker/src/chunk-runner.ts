import { UnrecoverableError, type Job } from 'bullmq';
import type { BatchStore } from '@inferq/batch/batch-store';
import { ownerModel } from '@inferq/core/keyspace';
import { InferqError, type ErrorBody } from '@inferq/core/errors';
import type { ChunkPayload } from '@inferq/core/job-types';
import type { QueuedTensor } from '@inferq/core/tensor';
import type { Logger } from '@inferq/core/logger';
import type { BatchItemOutcome } from '@inferq/inference/dynamic-batcher';
import { unpackTensor, type RawTensor } from '@inferq/inference/tensor-codec';
import type { PredictionLogEntry } from '@inferq/core/prediction-log-script';
import { predictionIdTime } from '@inferq/core/prediction-record';
import type { ModelManifest } from '@inferq/inference/manifest';
import { describeRows, predictionEntry, type DescribedInputs } from '@inferq/jobs/prediction-entry';
import type { VersionRunner } from './version-runner.ts';

type RowOutcome = { result: unknown } | { error: ErrorBody };

/** How a chunk ran, for its rows' prediction log entries. */
interface ChunkRun {
  startedAt: number;
  inferenceMs: number | null;
  batchSize: number | null;
}

/**
 * Each row's tensors, unpacked again from the job's data: the whole chunk's buffers were handed
 * to the inference thread (transferred, not copied) and are no longer readable here.
 */
function rowsOf(inputs: QueuedTensor[], rows: number): Record<string, RawTensor>[] {
  const whole = inputs.map((t) => [t.name, unpackTensor(t)] as const);
  return Array.from({ length: rows }, (_, r) =>
    Object.fromEntries(
      whole.map(([name, t]) => {
        const perRow = t.data.length / rows;
        // slice, not subarray: each row's buffer is its own, so it can be transferred.
        return [name, { type: t.type, dims: [1, ...t.dims.slice(1)], data: t.data.slice(r * perRow, (r + 1) * perRow) }];
      }),
    ),
  );
}

/** The post-processed answer, or the row's error when no answer can be made of its outputs (NaN, infinity). */
function buildRows(runner: VersionRunner, form: 'prediction' | 'predictions', outputs: Record<string, RawTensor>): RowOutcome {
  try {
    return { result: runner.results.build(form, outputs) };
  } catch (error) {
    if (error instanceof InferqError) return { error: error.toBody() };
    throw error;
  }
}

function modelError(outcome: BatchItemOutcome): ErrorBody {
  return { code: 'INFERENCE_FAILED', message: (outcome.error?.message ?? 'the model failed').split('\n')[0] as string };
}

/**
 * Scores one chunk of a batch. The chunk's valid rows run as one batcher item; if the model
 * rejects that run, the rows are re-run one by one (the batcher batches and bisects them again),
 * so only the rows the model cannot score fail. The chunk's result lines and counts are recorded
 * in one Redis step.
 */
export class ChunkRunner {
  constructor(
    private readonly store: BatchStore,
    private readonly logger: Logger,
    /** Counts rows given a result line (for /metrics). */
    private readonly metrics?: { batchRowsScored(model: string, version: string, succeeded: number, failed: number): void },
    /** Log each row's prediction (INFERQ_PREDICTION_LOG). */
    private readonly predictionLog = false,
  ) {}

  /**
   * The chunk's rows' prediction log entries, in row order; the rows that failed validation are
   * logged with their error and no input.
   */
  private logEntries(job: Job<ChunkPayload>, manifest: ModelManifest | undefined, outcomes: RowOutcome[], run: ChunkRun): PredictionLogEntry[] {
    if (!this.predictionLog) return [];
    const chunk = job.data;
    const model = ownerModel(chunk.batch_id);
    const createdAt = predictionIdTime(chunk.batch_id) ?? run.startedAt;
    const validRows = chunk.count - Object.keys(chunk.errors ?? {}).length;
    let described: DescribedInputs[] = [];
    try {
      if (manifest && validRows > 0) described = describeRows(manifest, chunk.inputs, validRows);
    } catch (error) {
      this.logger.warn({ batch_id: chunk.batch_id, chunk: chunk.chunk, err: (error as Error).message }, 'chunk inputs not logged');
    }
    const now = Date.now();
    const entries: PredictionLogEntry[] = [];
    let next = 0;
    for (let offset = 0; offset < chunk.count; offset++) {
      const row = chunk.first_row + offset;
      const rejected = chunk.errors?.[offset] !== undefined;
      const outcome = outcomes[offset] as RowOutcome;
      const entry = predictionEntry(
        { id: `${chunk.batch_id}:${row}`, tenant: chunk.tenant ?? 'default', model, version: job.name },
        {
          batch_id: chunk.batch_id,
          row,
          status: 'error' in outcome ? 'failed' : 'succeeded',
          ...('error' in outcome ? { error_code: outcome.error.code } : { prediction: outcome.result }),
          created_at: createdAt,
          queue_ms: Math.max(0, run.startedAt - createdAt),
          inference_ms: rejected ? null : run.inferenceMs,
          total_ms: Math.max(0, now - createdAt),
          batch_size: rejected ? null : run.batchSize,
        },
        manifest,
        rejected ? undefined : described[next++],
      );
      if (entry) entries.push(entry);
    }
    return entries;
  }

  /** Counts a chunk's rows once: a retried chunk that was already recorded is a duplicate. */
  private count(job: Job<ChunkPayload>, recorded: string, succeeded: number, failed: number): void {
    // The batch id names the model (job-id.ts); the job name is the version.
    if (recorded === 'recorded' || recorded === 'finished') this.metrics?.batchRowsScored(ownerModel(job.data.batch_id), job.name, succeeded, failed);
  }

  async run(job: Job<ChunkPayload>, runner: VersionRunner | undefined): Promise<void> {
    if (!runner) {
      return this.failAll(job, { code: 'MODEL_VERSION_UNAVAILABLE', message: `this worker has no ready version ${job.name}` });
    }
    try {
      await this.score(job, runner);
    } catch (error) {
      if (error instanceof UnrecoverableError) throw error;
      // Infrastructure failure: retried; on the last attempt the rows fail so the batch still ends.
      if (job.attemptsMade + 1 >= (job.opts.attempts ?? 1)) await this.failAll(job, { code: 'INTERNAL', message: (error as Error).message });
      throw error;
    }
  }

  /** Every row of the chunk fails with `error`, so that the batch still completes and reports them. */
  private async failAll(job: Job<ChunkPayload>, error: ErrorBody): Promise<void> {
    const chunk = job.data;
    const lines = Array.from({ length: chunk.count }, (_, offset) => {
      const id = chunk.ids?.[offset];
      const fields = { row: chunk.first_row + offset, ...(id === undefined || id === null ? {} : { id }), error: chunk.errors?.[offset] ?? error };
      return JSON.stringify(fields);
    });
    const outcomes = Array.from({ length: chunk.count }, (_, offset) => ({ error: chunk.errors?.[offset] ?? error }));
    const log = this.logEntries(job, undefined, outcomes, { startedAt: Date.now(), inferenceMs: null, batchSize: null });
    const recorded = await this.store.recordChunk(chunk.batch_id, chunk.chunk, `${lines.join('\n')}\n`, chunk.ttl_ms, { succeeded: 0, failed: chunk.count, canceled: 0 }, log);
    this.count(job, recorded, 0, chunk.count);
    this.logger.warn({ batch_id: chunk.batch_id, chunk: chunk.chunk, code: error.code }, 'chunk failed as a whole');
  }

  private async score(job: Job<ChunkPayload>, runner: VersionRunner): Promise<void> {
    const chunk = job.data;
    const validRows = chunk.count - Object.keys(chunk.errors ?? {}).length;
    const run: ChunkRun = { startedAt: Date.now(), inferenceMs: null, batchSize: null };
    let outcomes: RowOutcome[] = [];
    if (validRows > 0) {
      let feeds: Record<string, RawTensor>;
      try {
        feeds = Object.fromEntries(chunk.inputs.map((t) => [t.name, unpackTensor(t)]));
        if (chunk.inputs.some((t) => t.shape[0] !== validRows)) throw new Error('row count does not match the chunk');
      } catch (error) {
        // A malformed chunk is a producer bug; retrying it cannot help.
        throw new UnrecoverableError(`chunk ${chunk.chunk} of ${chunk.batch_id} is malformed: ${(error as Error).message}`);
      }
      const key = chunk.inputs.map((t) => t.shape.slice(1).join('x')).join('|');
      const whole = await runner.batcher.submit(feeds, validRows, key);
      run.inferenceMs = Math.round(whole.inferenceMs * 1000) / 1000;
      run.batchSize = whole.batchRows;
      const built = whole.outputs ? buildRows(runner, 'predictions', whole.outputs) : undefined;
      if (built && 'result' in built) {
        outcomes = (built.result as { predictions: unknown[] }).predictions.map((result) => ({ result }));
      } else {
        // The model rejected the chunk, or answered a row with NaN or infinity: each row on its own.
        this.logger.info({ batch_id: chunk.batch_id, chunk: chunk.chunk }, 'chunk not scored whole; scoring its rows one by one');
        const singles = await Promise.all(rowsOf(chunk.inputs, validRows).map((row) => runner.batcher.submit(row, 1, key)));
        outcomes = singles.map((o) => (o.outputs ? buildRows(runner, 'prediction', o.outputs) : { error: modelError(o) }));
      }
    }
    const lines: string[] = [];
    const rowOutcomes: RowOutcome[] = [];
    let succeeded = 0;
    let failed = 0;
    let next = 0;
    for (let offset = 0; offset < chunk.count; offset++) {
      const row = chunk.first_row + offset;
      const id = chunk.ids?.[offset];
      const head = id === undefined || id === null ? `{"row":${row}` : `{"row":${row},"id":${JSON.stringify(id)}`;
      const rejected = chunk.errors?.[offset];
      const outcome: RowOutcome = rejected ? { error: rejected } : (outcomes[next++] as RowOutcome);
      rowOutcomes.push(outcome);
      if ('error' in outcome) {
        failed++;
        lines.push(`${head},"error":${JSON.stringify(outcome.error)}}`);
      } else {
        succeeded++;
        lines.push(`${head},"result":${JSON.stringify(outcome.result)}}`);
      }
    }
    const log = this.logEntries(job, runner.manifest, rowOutcomes, run);
    const recorded = await this.store.recordChunk(chunk.batch_id, chunk.chunk, `${lines.join('\n')}\n`, chunk.ttl_ms, { succeeded, failed, canceled: 0 }, log);
    this.count(job, recorded, succeeded, failed);
  }
}

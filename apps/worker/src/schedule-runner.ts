import { createReadStream, createWriteStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import { isBatchFinal, type BatchStore } from '@inferq/batch/batch-store';
import { submitBatch } from '@inferq/batch/batch-submitter';
import { csvRows, ndjsonRows } from '@inferq/batch/row-sources';
import type { ScheduledRun } from '@inferq/batch/schedule';
import type { Config } from '@inferq/core/config';
import type { Keyspace } from '@inferq/core/keyspace';
import type { Logger } from '@inferq/core/logger';
import type { Redis } from '@inferq/core/redis-connection';
import type { ModelManifest } from '@inferq/inference/manifest';
import { defaultVersion, type ModelEntry } from '@inferq/inference/model-repository';
import { byWeight } from '@inferq/inference/stable-version';
import type { PolicyStore } from '@inferq/routing/policy-store';
import type { ImageScorer } from './image-scorer.ts';
import { ModelQueues } from './model-queues.ts';

const INPUT_EXTENSIONS = new Set(['.ndjson', '.jsonl', '.csv']);
/** Scored one request per image (pages for a pipeline), all of a tick's images into one output file. */
const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg', '.webp']);
/** Longest a tick waits for one round of its images. */
const IMAGE_ROUND_TIMEOUT_MS = 30 * 60_000;

export interface ScheduleRunnerOptions {
  config: Config;
  keys: Keyspace;
  store: BatchStore;
  /** Every model in the repository: a tick may score a model this worker does not serve itself. */
  models: Map<string, ModelEntry>;
  producer: Redis;
  /** Where the routing policies are (scheduled batches run on the stable version). */
  policies: PolicyStore;
  connection: Redis;
  logger: Logger;
  /** Scores a folder's images; without it, images are skipped. */
  images?: ImageScorer;
}

/** A tick's progress, kept on its queue job: the batch made for each input file, and the one it waits for. */
interface TickProgress {
  batches: Record<string, string>;
  batch_id?: string;
  done?: number;
  chunks?: number;
}

/** The scheduled time of a tick: BullMQ names scheduler jobs `repeat:<scheduler>:<millis>`. */
function tickTime(job: Job): number {
  const millis = Number(job.id?.split(':').at(-1));
  return Number.isFinite(millis) && millis > 0 ? millis : job.timestamp;
}

/**
 * Runs schedule ticks: each input file becomes a batch on the model's queue (scored by whichever
 * workers serve that model), and its results are written to the output folder once it ends.
 * BullMQ hands each tick to exactly one worker, however many run.
 */
export class ScheduleRunner {
  private readonly worker: Worker<ScheduledRun>;
  private readonly queues: ModelQueues;

  constructor(private readonly options: ScheduleRunnerOptions) {
    this.queues = new ModelQueues(options.producer, options.keys);
    this.worker = new Worker<ScheduledRun>(options.keys.schedulesQueue(), (job) => this.tick(job), {
      connection: options.connection,
      prefix: options.keys.prefix,
      concurrency: 1,
      // A tick on a killed worker is taken over as soon as a model's jobs would be.
      lockDuration: options.config.lockDurationMs,
      stalledInterval: options.config.stalledIntervalMs,
      autorun: false,
    });
    this.worker.on('error', (error) => options.logger.error({ err: error }, 'schedule worker error'));
  }

  start(): void {
    void this.worker.run();
  }

  async close(): Promise<void> {
    await this.worker.close();
    await this.queues.close();
  }

  private async inputFiles(input: string): Promise<string[]> {
    const info = await stat(input).catch(() => undefined);
    if (!info) throw new UnrecoverableError(`input ${input} does not exist on this worker`);
    if (info.isFile()) return [input];
    const names = (await readdir(input)).filter((n) => INPUT_EXTENSIONS.has(path.extname(n).toLowerCase()) || IMAGE_EXTENSIONS.has(path.extname(n).toLowerCase())).sort();
    return names.map((n) => path.join(input, n));
  }

  /** The routing policy's stable version (most weight) when it is available here, else the newest available one. */
  private async stableVersion(model: ModelEntry) {
    const stored = await this.options.policies.read(model.name);
    const weights = stored?.policy.weights ?? {};
    const stable = byWeight(weights).map((v) => model.versions.find((e) => e.version === v && e.state === 'available')).find(Boolean);
    return stable ?? defaultVersion(model);
  }

  private async tick(job: Job<ScheduledRun>): Promise<void> {
    const schedule = job.data;
    const at = tickTime(job);
    const log = this.options.logger.child({ schedule: job.repeatJobKey ?? job.name, tick: new Date(at).toISOString(), tick_job: job.id });
    const model = this.options.models.get(schedule.model);
    const version = model && (schedule.version ? model.versions.find((v) => v.version === schedule.version) : await this.stableVersion(model));
    if (version?.state !== 'available' || !version.manifest) throw new UnrecoverableError(`model ${schedule.model} ${schedule.version ?? ''} is not available`);
    const all = await this.inputFiles(schedule.input);
    log.info({ files: all.length, attempt: job.attemptsMade + 1 }, 'schedule tick started');
    const stamp = new Date(at).toISOString().replace(/[:.]/g, '-');
    const images = all.filter((f) => IMAGE_EXTENSIONS.has(path.extname(f).toLowerCase()));
    const files = all.filter((f) => !images.includes(f));
    if (images.length > 0 && this.options.images) {
      const ttlMs = (schedule.ttl_seconds ?? this.options.config.resultTtlSeconds) * 1000;
      const lines = this.options.images.lines(images, { model: schedule.model, version: version.version, tenant: schedule.tenant, ttlMs, maxPerBundle: version.manifest.max_batch_size, timeoutMs: IMAGE_ROUND_TIMEOUT_MS });
      const name = path.basename(schedule.input, path.extname(schedule.input));
      const target = path.join(schedule.output, `${name}.${stamp}.scores.ndjson`);
      await pipeline(lines, createWriteStream(target, { flags: 'wx' }));
      log.info({ input: schedule.input, images: images.length, output: target }, 'scheduled images done');
    }
    // A tick run again (its worker was killed) picks up the batches its earlier attempt made.
    const batches: Record<string, string> = { ...((job.progress as TickProgress | undefined)?.batches ?? {}) };
    for (const file of files) {
      const earlier = await this.earlierBatch(batches[file], log);
      const batchId = earlier ?? (await this.startBatch(job, schedule, version.version, version.manifest, file, batches));
      const status = await this.waitForEnd(batchId, job, batches);
      const target = path.join(schedule.output, `${path.basename(file, path.extname(file))}.${stamp}.scores.ndjson`);
      // 'wx': a tick's output is written once; a second writer for the same tick fails loudly.
      await pipeline(this.options.store.resultLines(batchId), createWriteStream(target, { flags: 'wx' })).catch((error: NodeJS.ErrnoException) => {
        // The earlier attempt wrote it before it was killed.
        if (!(earlier && error.code === 'EEXIST')) throw error;
      });
      log.info({ batch_id: batchId, input: file, output: target, status, resumed: earlier !== undefined }, 'scheduled batch done');
    }
    log.info({ files: files.length, images: images.length }, 'schedule tick done');
  }

  /**
   * The batch an earlier attempt of this tick made for a file, when it can be waited for. One the
   * attempt was still filling when its worker died is failed (WORKER_LOST), not left receiving.
   */
  private async earlierBatch(batchId: string | undefined, log: Logger): Promise<string | undefined> {
    if (batchId === undefined) return undefined;
    const hash = await this.options.store.read(batchId);
    if (!hash) return undefined;
    if (hash.status !== 'receiving') return batchId;
    await this.options.store.failIngest(batchId, { code: 'WORKER_LOST', message: 'the schedule tick that was reading its rows died; the tick ran again as a new batch' });
    log.warn({ batch_id: batchId }, 'an earlier attempt of this tick left its batch receiving: failed it, reading the file again');
    return undefined;
  }

  private async startBatch(job: Job<ScheduledRun>, schedule: ScheduledRun, version: string, manifest: ModelManifest, file: string, batches: Record<string, string>): Promise<string> {
    const source = createReadStream(file);
    const rows = path.extname(file).toLowerCase() === '.csv' ? csvRows(source) : ndjsonRows(source);
    return submitBatch(
      {
        queue: this.queues.get(schedule.model),
        store: this.options.store,
        model: schedule.model,
        version,
        tenant: schedule.tenant,
        manifest,
        ttlMs: (schedule.ttl_seconds ?? this.options.config.resultTtlSeconds) * 1000,
        chunkRows: this.options.config.batchChunkRows,
        attempts: this.options.config.jobAttempts,
        onCreated: async (batchId) => {
          batches[file] = batchId;
          await job.updateProgress({ batches } satisfies TickProgress);
        },
      },
      rows,
    );
  }

  private async waitForEnd(batchId: string, job: Job, batches: Record<string, string>): Promise<string> {
    for (;;) {
      const hash = await this.options.store.read(batchId);
      if (!hash) throw new Error(`batch ${batchId} vanished`);
      if (isBatchFinal(hash.status)) return hash.status;
      await job.updateProgress({ batches, batch_id: batchId, done: Number(hash.chunks_done ?? 0), chunks: Number(hash.chunks_total ?? 0) } satisfies TickProgress);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

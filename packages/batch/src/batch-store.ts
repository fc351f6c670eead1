import { encodeCompletion } from '@inferq/core/completion-message';
import { type Keyspace, ownerModel } from '@inferq/core/keyspace';
import { NamedCommand } from '@inferq/core/named-command';
import { encodeProgress } from '@inferq/core/progress-message';
import { LOG_PREDICTIONS_LUA, PredictionLogArgs, type PredictionLogEntry, type PredictionLogLimits } from '@inferq/core/prediction-log-script';
import type { WebhookSubscription } from '@inferq/core/job-types';
import type { Redis } from '@inferq/core/redis-connection';
import type { BatchHash, BatchStatus, BatchView } from './batch-record.ts';

/** Lua: when every chunk is done (and the totals are known), the batch takes its final status and its TTL. */
const finishIfComplete = (nowArg: string) => `
local chunksTotal = redis.call('HGET', KEYS[1], 'chunks_total')
local done = tonumber(redis.call('HGET', KEYS[1], 'chunks_done') or '0')
local status = redis.call('HGET', KEYS[1], 'status')
if chunksTotal and tonumber(chunksTotal) == done and status ~= 'succeeded' and status ~= 'failed' and status ~= 'canceled' then
  local final = 'succeeded'
  if redis.call('HGET', KEYS[1], 'cancel_requested') then final = 'canceled' end
  redis.call('HSET', KEYS[1], 'status', final, 'finished_at', ${nowArg})
  redis.call('PEXPIRE', KEYS[1], redis.call('HGET', KEYS[1], 'ttl_ms'))
  return 2
end`;

/** Lua: returns 3 when the rows done have passed another tenth of the (known) total since last reported. */
const PROGRESS_STEP = `
local rows = tonumber(redis.call('HGET', KEYS[1], 'total') or '0')
if rows > 0 then
  local h = redis.call('HMGET', KEYS[1], 'succeeded', 'failed', 'canceled', 'progress_step')
  local step = math.floor((tonumber(h[1] or '0') + tonumber(h[2] or '0') + tonumber(h[3] or '0')) * 10 / rows)
  if step > tonumber(h[4] or '0') then
    redis.call('HSET', KEYS[1], 'progress_step', step)
    return 3
  end
end`;

/**
 * Records a chunk's result lines and counts them, once: a chunk retried after a crashed worker
 * finds its key already set and counts nothing (and logs nothing). Every key is the batch's
 * model's (one cluster slot). A recorded chunk is announced on the model's progress channel (ARGV[7], the batch id in ARGV[8]) for event streams, and its rows'
 * predictions are appended to the prediction log in the same step. KEYS: batch, chunk, then the
 * log's keys; ARGV: lines, ttl, counts, now, channel, batch id, then the log section
 * (PredictionLogArgs, from ARGV[9]). Returns -1 (batch gone), 0 (already recorded), 1
 * (recorded), 2 (recorded, and it was the batch's last chunk), 3 (recorded, and the batch
 * passed another tenth of its rows).
 */
const RECORD_CHUNK = new NamedCommand(
  'inferqRecordChunk',
  `${LOG_PREDICTIONS_LUA}
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if not redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2], 'NX') then return 0 end
redis.call('HINCRBY', KEYS[1], 'succeeded', ARGV[3])
redis.call('HINCRBY', KEYS[1], 'failed', ARGV[4])
redis.call('HINCRBY', KEYS[1], 'canceled', ARGV[5])
redis.call('HINCRBY', KEYS[1], 'chunks_done', 1)
redis.call('HSETNX', KEYS[1], 'started_at', ARGV[6])
redis.call('SPUBLISH', ARGV[7], ARGV[8])
logPredictions(9, {})
${finishIfComplete('ARGV[6]')}
${PROGRESS_STEP}
return 1`,
);

/**
 * Called once every chunk is enqueued: fixes the totals (announced on the progress channel,
 * ARGV[4], with the batch id, ARGV[5]), and finishes the batch if its chunks all ran already. Until now no percentage could be known, so this may also be a progress step.
 */
const CLOSE_INGEST = new NamedCommand(
  'inferqCloseIngest',
  `if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
redis.call('HSET', KEYS[1], 'total', ARGV[1], 'chunks_total', ARGV[2], 'ingested_at', ARGV[3], 'status', 'queued')
redis.call('SPUBLISH', ARGV[4], ARGV[5])
${finishIfComplete('ARGV[3]')}
${PROGRESS_STEP}
return 1`,
  1,
);

/** What a batch's subscribers are told: every tenth of its rows done, and its end. */
export type BatchEvent = 'batch.progress' | 'batch.completed';
export type BatchEventListener = (batchId: string, event: BatchEvent, batch: BatchHash & { ttlRemainingMs: number }) => Promise<void>;

export interface ChunkCounts {
  succeeded: number;
  failed: number;
  canceled: number;
}

/** A batch that is still receiving rows is kept this long at most, in case its upload never ends. */
const RECEIVING_GRACE_MS = 24 * 3600 * 1000;

/** Every Redis operation on batches, shared by the API (ingest, read, cancel) and workers (chunk results). */
export class BatchStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keyspace,
    /** Told of progress steps and completion, e.g. to send batch webhooks. Never throws into the caller. */
    private readonly onEvent?: BatchEventListener,
    /** Bounds of the prediction log; absent: rows are not logged. */
    private readonly predictionLog?: PredictionLogLimits,
  ) {
    RECORD_CHUNK.define(redis);
    CLOSE_INGEST.define(redis);
  }

  async create(batchId: string, fields: { model: string; version: string; tenant: string; ttlMs: number; createdAt: number; webhook?: WebhookSubscription }): Promise<void> {
    const hash: BatchHash = {
      model: fields.model,
      version: fields.version,
      status: 'receiving',
      tenant: fields.tenant,
      ttl_ms: String(fields.ttlMs),
      created_at: String(fields.createdAt),
      ...(fields.webhook ? { webhook: JSON.stringify(fields.webhook) } : {}),
    };
    await this.redis.multi().hset(this.keys.batch(batchId), hash as unknown as Record<string, string>).pexpire(this.keys.batch(batchId), fields.ttlMs + RECEIVING_GRACE_MS).exec();
  }

  /** Returns true when this call finished the batch. */
  async closeIngest(batchId: string, total: number, chunks: number): Promise<boolean> {
    const outcome = (await CLOSE_INGEST.run(this.redis, this.keys.batch(batchId), total, chunks, Date.now(), this.keys.progressChannel(ownerModel(batchId)), encodeProgress([batchId]))) as number;
    if (outcome === 2) await this.afterFinish(batchId, chunks);
    else if (outcome === 3) await this.emit(batchId, 'batch.progress');
    return outcome === 2;
  }

  async failIngest(batchId: string, error: { code: string; message: string }): Promise<void> {
    const key = this.keys.batch(batchId);
    const ttl = await this.redis.hget(key, 'ttl_ms');
    await this.redis
      .multi()
      .hset(key, 'status', 'failed', 'finished_at', String(Date.now()), 'error', JSON.stringify(error))
      .pexpire(key, Number(ttl ?? 3600_000))
      .spublish(this.keys.jobsFinishedChannel(ownerModel(batchId)), encodeCompletion([{ id: batchId }]))
      .exec();
  }

  /** Returns 'finished' when this chunk was the batch's last. `log`: the rows' prediction log entries, appended only if the chunk is recorded now. */
  async recordChunk(batchId: string, chunk: number, lines: string, ttlMs: number, counts: ChunkCounts, log: readonly PredictionLogEntry[] = []): Promise<'gone' | 'duplicate' | 'recorded' | 'finished'> {
    const logArgs = this.predictionLog ? new PredictionLogArgs(this.keys, this.predictionLog, 2) : undefined;
    if (logArgs) for (const entry of log) logArgs.add(entry);
    const logKeys = logArgs?.keys ?? [];
    // A chunk's rows and their log entries are recorded by one call (exactly once, together): as
    // one array, since a chunk of INFERQ_BATCH_CHUNK_ROWS rows brings 12 arguments per row.
    const args: (string | number)[] = [2 + logKeys.length, this.keys.batch(batchId), this.keys.batchChunk(batchId, chunk)];
    for (const key of logKeys) args.push(key);
    args.push(lines, ttlMs, counts.succeeded, counts.failed, counts.canceled, Date.now(), this.keys.progressChannel(ownerModel(batchId)), encodeProgress([batchId]));
    for (const arg of logArgs?.args() ?? [0]) args.push(arg);
    const outcome = (await RECORD_CHUNK.runWith(this.redis, args)) as number;
    if (outcome === 2) {
      const chunks = Number(await this.redis.hget(this.keys.batch(batchId), 'chunks_total'));
      await this.afterFinish(batchId, chunks);
    } else if (outcome === 3) {
      await this.emit(batchId, 'batch.progress');
    }
    return (['gone', 'duplicate', 'recorded', 'finished', 'recorded'] as const)[outcome + 1] ?? 'recorded';
  }

  /** Results expire a TTL after the batch finished, like a job's: chunk keys are re-armed from now. */
  private async afterFinish(batchId: string, chunks: number): Promise<void> {
    const ttl = Number(await this.redis.hget(this.keys.batch(batchId), 'ttl_ms'));
    const pipeline = this.redis.pipeline();
    for (let i = 0; i < chunks; i++) pipeline.pexpire(this.keys.batchChunk(batchId, i), ttl);
    pipeline.spublish(this.keys.jobsFinishedChannel(ownerModel(batchId)), encodeCompletion([{ id: batchId }]));
    await pipeline.exec();
    await this.emit(batchId, 'batch.completed');
  }

  private async emit(batchId: string, event: BatchEvent): Promise<void> {
    if (!this.onEvent) return;
    const batch = await this.read(batchId).catch(() => undefined);
    if (batch) await this.onEvent(batchId, event, batch).catch(() => undefined);
  }

  async requestCancel(batchId: string): Promise<void> {
    await this.redis.hset(this.keys.batch(batchId), 'cancel_requested', '1');
  }

  async read(batchId: string): Promise<(BatchHash & { ttlRemainingMs: number }) | undefined> {
    const [[, hash], [, pttl]] = (await this.redis.multi().hgetall(this.keys.batch(batchId)).pttl(this.keys.batch(batchId)).exec()) as [[unknown, Record<string, string>], [unknown, number]];
    if (!hash || Object.keys(hash).length === 0) return undefined;
    return { ...(hash as unknown as BatchHash), ttlRemainingMs: pttl };
  }

  /**
   * A finished batch's result lines in input order, a window of chunks per round trip: never the
   * whole file in memory. Stops early if the results expire while being read. The lines stay
   * bytes from Redis to the socket: decoding and re-encoding a million lines cost as much as
   * reading them.
   */
  async *resultLines(batchId: string, window = 32): AsyncGenerator<Buffer> {
    const chunks = Number((await this.redis.hget(this.keys.batch(batchId), 'chunks_total')) ?? 0);
    for (let from = 0; from < chunks; from += window) {
      const keys = Array.from({ length: Math.min(window, chunks - from) }, (_, i) => this.keys.batchChunk(batchId, from + i));
      for (const lines of await this.redis.mgetBuffer(keys)) {
        if (lines === null) return;
        yield lines;
      }
    }
  }
}

const FINAL: BatchStatus[] = ['succeeded', 'failed', 'canceled'];

export function isBatchFinal(status: BatchStatus): boolean {
  return FINAL.includes(status);
}

export function toBatchView(batchId: string, hash: BatchHash & { ttlRemainingMs: number }): BatchView {
  const n = (v: string | undefined) => Number(v ?? 0);
  const iso = (v: string | undefined) => (v ? new Date(Number(v)).toISOString() : null);
  const total = n(hash.total);
  const succeeded = n(hash.succeeded);
  const failed = n(hash.failed);
  const canceled = n(hash.canceled);
  const done = succeeded + failed + canceled;
  let status = hash.status;
  if (status === 'queued' && (n(hash.chunks_done) > 0 || hash.started_at)) status = 'running';
  const final = isBatchFinal(status);
  return {
    batch_id: batchId,
    status,
    model: hash.model,
    model_version: hash.version,
    total: hash.total === undefined ? done : total,
    succeeded,
    failed,
    canceled,
    pending: hash.total === undefined ? 0 : Math.max(0, total - done),
    percent: total > 0 ? Math.round((done / total) * 1000) / 10 : final ? 100 : 0,
    created_at: iso(hash.created_at) as string,
    started_at: iso(hash.started_at),
    finished_at: iso(hash.finished_at),
    timings: {
      ingest_ms: hash.ingested_at ? n(hash.ingested_at) - n(hash.created_at) : null,
      total_ms: hash.finished_at ? n(hash.finished_at) - n(hash.created_at) : null,
    },
    results_url: `/v1/batches/${encodeURIComponent(batchId)}/results`,
    expires_at: final && hash.ttlRemainingMs > 0 ? new Date(Date.now() + hash.ttlRemainingMs).toISOString() : null,
    ...(hash.error ? { error: JSON.parse(hash.error) as { code: string; message: string } } : {}),
  };
}

import type { ParsedJobId } from '@inferq/core/job-id';
import type { BundledRequest, BundlePayload, FinishedJobRecord } from '@inferq/core/job-types';
import { groupByOwnerModel, type Keyspace, ownerModel } from '@inferq/core/keyspace';
import { NamedCommand } from '@inferq/core/named-command';
import { encodeProgress } from '@inferq/core/progress-message';
import { LOG_PREDICTIONS_LUA, PredictionLogArgs, type PredictionLogEntry, type PredictionLogLimits } from '@inferq/core/prediction-log-script';
import type { Redis } from '@inferq/core/redis-connection';
import { finishedRecordCodec } from './job-codecs.ts';

/**
 * Stores finished records, each only if the job has none yet (SET NX: a cancel, or an earlier
 * attempt of a retried bundle, wins), publishes the stored ones, records included, in one
 * message (on the model's sharded channel), and appends the stored ones' predictions to the
 * prediction log (so a record dropped for a cancel's is never logged twice). Every key belongs to
 * one model (one cluster slot). KEYS: result keys, then the log's keys; ARGV: channel,
 * result count, then (id, ttl ms, record) per result key, then the log section
 * (PredictionLogArgs, entries owned by their result's position). Returns 1/0 per result key.
 * Flagged allow-oom: an accepted job's outcome is stored even when Redis is at maxmemory (the API
 * admits no new job then, so what this adds is bounded by the work already accepted, and each
 * finished bundle frees its payload), rather than lost.
 */
/** Finished records written by one script call at most (a larger burst is split; see writeFinished). */
export const MAX_WRITES_PER_CALL = 500;

const WRITE_FINISHED = new NamedCommand(
  'inferqWriteFinished',
  `#!lua flags=allow-oom
${LOG_PREDICTIONS_LUA}
local lines = {}
local written = {}
local n = tonumber(ARGV[2])
for i = 1, n do
  local at = 3 + (i - 1) * 3
  if redis.call('SET', KEYS[i], ARGV[at + 2], 'PX', ARGV[at + 1], 'NX') then
    written[i] = 1
    lines[#lines + 1] = ARGV[at] .. '\\t' .. ARGV[at + 2]
  else
    written[i] = 0
  end
end
if #lines > 0 then redis.call('SPUBLISH', ARGV[1], table.concat(lines, '\\n')) end
logPredictions(3 + n * 3, written)
return written`,
);

/** Adds ARGV[1] to every counter in KEYS (refreshing a one-hour expiry); returns their new values. */
const COUNT_IN = new NamedCommand(
  'inferqCountIn',
  `local values = {}
for i = 1, #KEYS do
  values[i] = redis.call('INCRBY', KEYS[i], ARGV[1])
  redis.call('PEXPIRE', KEYS[i], 3600000)
end
return values`,
);

/**
 * Takes ARGV[1] off every counter in KEYS. Flagged allow-oom: a count taken back because Redis
 * refused the queue add for lack of memory must not be refused too, or the depth stays inflated.
 */
const COUNT_OUT = new NamedCommand(
  'inferqCountOut',
  `#!lua flags=allow-oom
for i = 1, #KEYS do
  redis.call('DECRBY', KEYS[i], ARGV[1])
end
return #KEYS`,
);

/**
 * A model's queued requests. The counter is settled back to 0 whenever BullMQ's lists hold no job
 * at all, so a count lost to a crash between two steps cannot hold the queue "full" for good.
 * KEYS: counter, then BullMQ's wait, prioritized, active, paused and delayed keys (a bundle sent
 * back while its version loads waits, still counted, in delayed).
 */
const QUEUE_DEPTH = new NamedCommand(
  'inferqQueueDepth',
  `local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n ~= 0 and redis.call('LLEN', KEYS[2]) == 0 and redis.call('ZCARD', KEYS[3]) == 0 and redis.call('LLEN', KEYS[4]) == 0 and redis.call('LLEN', KEYS[5]) == 0 and redis.call('ZCARD', KEYS[6]) == 0 then
  redis.call('DEL', KEYS[1])
  return 0
end
return n`,
  6,
);

/** The state of a request that has not finished: its bundle's queue fields. */
export interface PendingRequest {
  version: string;
  /** Epoch ms the bundle was created (every request of a bundle shares it). */
  createdAt: number;
  /** Epoch ms a worker took the bundle; undefined while queued. */
  startedAt: number | undefined;
}

export type RequestState = { finished: FinishedJobRecord } | { pending: PendingRequest } | undefined;

/** A finished record to store, and for how long; `log`: its prediction log entry, appended only if the record is stored. */
export interface FinishedWrite {
  record: FinishedJobRecord;
  ttlMs: number;
  log?: PredictionLogEntry | undefined;
}

/**
 * The one owner of the job state that API and worker processes share in Redis: requests, their
 * bundles, finished records (with their exact TTL and their publication to long-polls), and the
 * counters a model's queue is admitted by (idempotency keys: IdempotencyKeys). BullMQ owns the bundle's
 * queue job; everything inferq adds beside it is written and read here.
 */
export class JobStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keyspace,
    /** Bounds of the prediction log; absent: nothing is logged (INFERQ_PREDICTION_LOG=false). */
    private readonly predictionLog?: PredictionLogLimits,
  ) {
    for (const command of [WRITE_FINISHED, COUNT_IN, COUNT_OUT, QUEUE_DEPTH]) command.define(redis);
  }

  // ---- requests and their records ---------------------------------------------------------

  /**
   * A request's state in one round trip: its finished record, else its bundle's queue fields.
   * The bundle is read before the record: a worker writes records first and completes the bundle
   * second, so whichever moment this lands in, one of the two is seen.
   */
  async readRequest(id: ParsedJobId & { jobId: string }): Promise<RequestState> {
    const [fields, result] = await Promise.all([
      this.redis.hmget(this.keys.bullJob(id.model, id.bundleId), 'name', 'timestamp', 'processedOn', 'finishedOn'),
      this.redis.get(this.keys.result(id.jobId)),
    ]);
    if (result) return { finished: finishedRecordCodec.decode(result) };
    let [name, timestamp, processedOn, finishedOn] = fields;
    if (!name || !timestamp) {
      // A job queued alone under its own id (by another producer, or before bundles): only
      // unknown and expired ids pay this second read.
      [name, timestamp, processedOn, finishedOn] = await this.redis.hmget(this.keys.bullJob(id.model, id.jobId), 'name', 'timestamp', 'processedOn', 'finishedOn');
      if (!name || !timestamp) return undefined;
    }
    // A finished bundle is kept a while for the queue dashboard; its requests' records decide.
    if (finishedOn) return undefined;
    return { pending: { version: name, createdAt: Number(timestamp), startedAt: processedOn ? Number(processedOn) : undefined } };
  }

  async readFinished(jobId: string): Promise<FinishedJobRecord | undefined> {
    const text = await this.redis.get(this.keys.result(jobId));
    return text ? finishedRecordCodec.decode(text) : undefined;
  }

  /** Several requests' finished records in one round trip (undefined where there is none). */
  async readFinishedMany(jobIds: readonly string[]): Promise<(FinishedJobRecord | undefined)[]> {
    const values = await this.readResults(jobIds);
    return values.map((v) => (v ? finishedRecordCodec.decode(v) : undefined));
  }

  /** The result keys' values, one MGET per model (a cluster slot each; one MGET in all for a bundle). */
  private async readResults(jobIds: readonly string[]): Promise<(string | null)[]> {
    if (jobIds.length === 0) return [];
    const byModel = groupByOwnerModel(jobIds, (id) => id);
    if (byModel.size === 1) return this.redis.mget(jobIds.map((id) => this.keys.result(id)));
    const values = new Map<string, string | null>();
    await Promise.all(
      [...byModel.values()].map(async (ids) => {
        const read = await this.redis.mget(ids.map((id) => this.keys.result(id)));
        for (const [i, id] of ids.entries()) values.set(id, read[i] ?? null);
      }),
    );
    return jobIds.map((id) => values.get(id) ?? null);
  }

  /** A queued or running request's own payload and its bundle's (for cancel), or undefined once the bundle is gone. */
  async readBundledRequest(id: ParsedJobId & { jobId: string }): Promise<{ version: string; request: BundledRequest; bundle: BundlePayload } | undefined> {
    const [name, data] = await this.redis.hmget(this.keys.bullJob(id.model, id.bundleId), 'name', 'data');
    if (!name || !data) return undefined;
    const payload = JSON.parse(data) as { kind?: string; requests?: unknown };
    if (payload.kind !== 'bundle' || !Array.isArray(payload.requests)) return undefined;
    const bundle = payload as BundlePayload;
    const request = bundle.requests.find((r) => r.id === id.jobId);
    return request ? { version: name, request, bundle } : undefined;
  }

  /** Whether every one of these requests has its record. */
  async allFinished(requestIds: readonly string[]): Promise<boolean> {
    const values = await this.readResults(requestIds);
    return values.every((v) => v !== null);
  }

  /**
   * Stores finished records that are not there yet, and publishes those it stored (records
   * included) in the same script. Returns, per write, whether it was stored: a record already
   * there (the request was canceled, or an earlier attempt finished it) is kept, and the new one
   * is dropped unannounced.
   */
  async writeFinished(writes: readonly FinishedWrite[]): Promise<boolean[]> {
    if (writes.length <= MAX_WRITES_PER_CALL) return this.writeFinishedOnce(writes);
    // Each write stands alone (its record and its log entry go together), so a burst is split
    // into bounded script calls, sent together: one call of thousands of writes would hold Redis
    // for its whole run.
    const calls: Promise<boolean[]>[] = [];
    for (let i = 0; i < writes.length; i += MAX_WRITES_PER_CALL) calls.push(this.writeFinishedOnce(writes.slice(i, i + MAX_WRITES_PER_CALL)));
    return (await Promise.all(calls)).flat();
  }

  private async writeFinishedOnce(writes: readonly FinishedWrite[]): Promise<boolean[]> {
    if (writes.length === 0) return [];
    const byModel = groupByOwnerModel(writes, (w) => w.record.job_id);
    if (byModel.size === 1) return this.writeFinishedOfModel(ownerModel(writes[0]?.record.job_id ?? ''), writes);
    // Writes of several models (rare: a caller finishing requests of two models at once) go to
    // their models' slots one script call each.
    const stored = new Map<FinishedWrite, boolean>();
    await Promise.all(
      [...byModel].map(async ([model, own]) => {
        const written = await this.writeFinishedOfModel(model, own);
        for (const [i, w] of own.entries()) stored.set(w, written[i] ?? false);
      }),
    );
    return writes.map((w) => stored.get(w) ?? false);
  }

  private async writeFinishedOfModel(model: string, writes: readonly FinishedWrite[]): Promise<boolean[]> {
    const log = this.predictionLog ? new PredictionLogArgs(this.keys, this.predictionLog, writes.length) : undefined;
    if (log) for (const [i, w] of writes.entries()) if (w.log) log.add(w.log, i + 1);
    const logKeys = log?.keys ?? [];
    const args: (string | number)[] = [writes.length + logKeys.length];
    for (const w of writes) args.push(this.keys.result(w.record.job_id));
    for (const key of logKeys) args.push(key);
    args.push(this.keys.jobsFinishedChannel(model), writes.length);
    for (const w of writes) args.push(w.record.job_id, Math.max(1, Math.round(w.ttlMs)), finishedRecordCodec.encode(w.record));
    for (const arg of log?.args() ?? [0]) args.push(arg);
    const written = (await WRITE_FINISHED.runWith(this.redis, args)) as number[];
    return written.map((w) => w === 1);
  }

  // ---- bundles on the worker ----------------------------------------------------------------

  /**
   * Called as a worker starts a bundle: which of its requests already have a record (canceled,
   * or finished by an earlier attempt), and, on the bundle's first take, uncounts its requests
   * from the counters they were admitted in. Also announces that the bundle's requests are running
   * (one PUBLISH of the bundle id, for event streams). One round trip.
   */
  async takeBundle(bundleId: string, requestIds: readonly string[], uncount?: { counters: readonly string[]; count: number }): Promise<boolean[]> {
    // Everything here is the bundle's model's (one cluster slot), so one pipeline carries it.
    const pipeline = this.redis.pipeline().mget(requestIds.map((id) => this.keys.result(id)));
    for (const counter of uncount?.counters ?? []) pipeline.decrby(counter, uncount?.count ?? 0);
    pipeline.spublish(this.keys.progressChannel(ownerModel(bundleId)), encodeProgress([bundleId]));
    const replies = (await pipeline.exec()) ?? [];
    const [error, values] = replies[0] ?? [new Error('no reply')];
    if (error) throw error;
    return (values as (string | null)[]).map((v) => v !== null);
  }

  // ---- admission ----------------------------------------------------------------------------

  /** Counts `count` requests in each counter; returns the counters' new values. */
  async countIn(counters: readonly string[], count: number): Promise<number[]> {
    if (counters.length === 0) return [];
    return (await COUNT_IN.run(this.redis, counters.length, ...counters, count)) as number[];
  }

  /** Takes back a count whose requests never reached the queue. */
  async uncount(counters: readonly string[], count: number): Promise<void> {
    if (counters.length === 0) return;
    await COUNT_OUT.run(this.redis, counters.length, ...counters, count);
  }

  /** Requests queued for a model (not yet taken by a worker). */
  async queuedRequests(model: string): Promise<number> {
    const k = this.keys;
    const n = (await QUEUE_DEPTH.run(this.redis, k.queuedRequests(model), k.bullQueueKey(model, 'wait'), k.bullQueueKey(model, 'prioritized'), k.bullQueueKey(model, 'active'), k.bullQueueKey(model, 'paused'), k.bullQueueKey(model, 'delayed'))) as number;
    return Math.max(0, n);
  }
}

import { createHash } from 'node:crypto';
import type { JobsOptions, Queue } from 'bullmq';
import type { Config } from '@inferq/core/config';
import { InferqError, type ErrorBody } from '@inferq/core/errors';
import { newJobId, parseJobId, tenantTag } from '@inferq/core/job-id';
import type { FinishedJobRecord, JobPayload, QueuePayload, RoutedBy, ShadowPayload } from '@inferq/core/job-types';
import type { Keyspace } from '@inferq/core/keyspace';
import { guardRedis, isRedisUnavailableError, redisUnavailable, type Redis } from '@inferq/core/redis-connection';
import { probeImage } from '@inferq/inference/image-preprocess';
import { validateModelInput } from '@inferq/inference/input-validation';
import type { ModelManifest } from '@inferq/inference/manifest';
import { packTensor } from '@inferq/inference/tensor-codec';
import { assertWebhookUrl } from '@inferq/webhooks/ssrf-guard';
import type { WebhookProducer } from '@inferq/webhooks/webhook-service';
import { DEFAULT_PRIORITY, type Admission } from './admission.ts';
import type { CompletionListener } from './completion-listener.ts';
import type { JobRequest } from './job-request-schema.ts';
import type { RoutingService } from '../routing/routing-service.ts';
import { isFinished, type JobView } from './job-view.ts';
import type { ModelCatalog } from './model-catalog.ts';

export interface SubmittedJob {
  job_id: string;
  status: 'queued';
  model: string;
  model_version: string;
  created_at: string;
  /** Why this version: pinned, weight, sticky or fallback. */
  routed_by: RoutedBy;
}

interface Prepared {
  job: SubmittedJob;
  payload: JobPayload;
  manifest: ModelManifest;
  priorityClass: number;
}

/** One entry of a bulk submit's answer, in request order: the job, or why it was refused. */
export type BulkItem = (SubmittedJob & { poll_url: string }) | { error: ErrorBody };

interface IdempotencyRecord {
  job: SubmittedJob;
  body_sha256: string;
}

/** Sorted-key JSON, so two bodies that differ only in key order or spacing count as the same request. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

// GET-or-SET in one step: of 50 concurrent submits with one key, exactly one claims it.
const CLAIM_IDEMPOTENCY_KEY = `
local existing = redis.call('GET', KEYS[1])
if existing then return existing end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return false`;

// Deletes the key only if it still holds this value (a canceled-job placeholder we wrote).
const DELETE_IF_EQUAL = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

export interface JobServiceDeps {
  config: Config;
  redis: Redis;
  keys: Keyspace;
  catalog: ModelCatalog;
  queues: Map<string, Queue<QueuePayload>>;
  completions: CompletionListener;
  webhooks: WebhookProducer;
  admission: Admission;
  routing: RoutingService;
  /** Counts submits (traffic split by version) and cancellations for /metrics. */
  metrics?: { jobSubmitted(model: string, version: string): void; jobCanceled(model: string, version: string): void };
}

/** Submit, read, long-poll and cancel jobs. Every method is stateless: all state is in Redis. */
export class JobService {
  constructor(private readonly deps: JobServiceDeps) {}

  private queueFor(model: string): Queue<QueuePayload> {
    const queue = this.deps.queues.get(model);
    if (!queue) throw new InferqError('MODEL_NOT_FOUND', `no model named ${model}`);
    return queue;
  }

  /** Validates a request against its model and builds the job and its payload; nothing touches Redis. */
  private async prepare(request: JobRequest, requestId: string, tenant: string, now: number): Promise<Prepared> {
    const { config } = this.deps;
    const routed = this.deps.routing.decide(request.model, request.version, request.routing_key);
    const version = routed.entry;
    const manifest = version.manifest as ModelManifest;
    const validated = request.image
      ? { inputs: [], response: 'prediction' as const, image: await this.checkImage(manifest, request.image.data) }
      : validateModelInput(manifest, request, config.maxRowsPerJob);
    if (request.webhook) assertWebhookUrl(request.webhook.url, this.deps.webhooks.policy);
    const job: SubmittedJob = {
      job_id: newJobId(request.model, tenant),
      status: 'queued',
      model: request.model,
      model_version: version.version,
      created_at: new Date(now).toISOString(),
      routed_by: routed.routed_by,
    };
    const payload: JobPayload = {
      inputs: validated.inputs.map(packTensor),
      response: validated.response,
      ...('image' in validated ? { image: validated.image } : {}),
      ...(request.include_outputs ? { include_outputs: true } : {}),
      ttl_ms: (request.ttl_seconds ?? config.resultTtlSeconds) * 1000,
      created_at: now,
      ...(request.metadata ? { metadata: request.metadata } : {}),
      request_id: requestId,
      tenant,
      ...(request.deadline_seconds ? { deadline_at: now + request.deadline_seconds * 1000 } : {}),
      ...(request.webhook ? { webhook: request.webhook } : {}),
      routed_by: routed.routed_by,
      ...(routed.fallback ? { fallback_version: routed.fallback } : {}),
      ...(routed.shadow ? { shadow_version: routed.shadow } : {}),
    };
    return { job, payload, manifest, priorityClass: request.priority ?? DEFAULT_PRIORITY };
  }

  private jobOptions(prepared: Prepared, priority: number): JobsOptions {
    return {
      jobId: prepared.job.job_id,
      timestamp: prepared.payload.created_at,
      priority,
      attempts: this.deps.config.jobAttempts,
      backoff: { type: 'exponential', delay: 500 },
      removeOnComplete: true,
      removeOnFail: true,
    };
  }

  /** The queue entries of a job: itself, then its shadow copy when the policy has one (same round trip). */
  private entries(prepared: Prepared, priority: number): { name: string; data: QueuePayload; opts: JobsOptions }[] {
    const { job, payload } = prepared;
    const entries: { name: string; data: QueuePayload; opts: JobsOptions }[] = [{ name: job.model_version, data: payload, opts: this.jobOptions(prepared, priority) }];
    if (payload.shadow_version) {
      const shadow: ShadowPayload = {
        kind: 'shadow',
        primary_job_id: job.job_id,
        primary_version: job.model_version,
        inputs: payload.inputs,
        ...(payload.image !== undefined ? { image: payload.image } : {}),
        response: payload.response,
        created_at: payload.created_at,
      };
      // Queued right behind its primary at the same priority; never retried, never kept.
      entries.push({ name: payload.shadow_version, data: shadow, opts: { jobId: `${job.job_id}-shadow`, timestamp: payload.created_at, priority, attempts: 1, removeOnComplete: true, removeOnFail: true } });
    }
    return entries;
  }

  /** Returns the job and whether this call created it (false: an idempotent replay). */
  async submit(request: JobRequest, idempotencyKey: string | undefined, requestId: string, tenant: string): Promise<{ job: SubmittedJob; created: boolean }> {
    const { config, keys } = this.deps;
    const prepared = await this.prepare(request, requestId, tenant, Date.now());
    const { job, payload } = prepared;
    await guardRedis(() => this.deps.admission.checkDepth(request.model, prepared.manifest));
    return guardRedis(async () => {
      let idempotencyRedisKey: string | undefined;
      if (idempotencyKey !== undefined) {
        // Scoped by tenant: two tenants using the same key never see each other's jobs.
        idempotencyRedisKey = keys.idempotency(sha256(`${tenant}\u0000${idempotencyKey}`));
        const record: IdempotencyRecord = { job, body_sha256: sha256(canonicalJson(request)) };
        const existing = (await this.deps.redis.eval(CLAIM_IDEMPOTENCY_KEY, 1, idempotencyRedisKey, JSON.stringify(record), config.idempotencyTtlSeconds * 1000)) as string | null;
        if (existing) {
          const previous = JSON.parse(existing) as IdempotencyRecord;
          if (previous.body_sha256 !== record.body_sha256) {
            throw new InferqError('IDEMPOTENCY_KEY_REUSED', undefined, { details: { job_id: previous.job.job_id } });
          }
          return { job: previous.job, created: false };
        }
      }
      const [placement] = await this.deps.admission.placements(request.model, tenant, prepared.priorityClass, 1);
      if (placement?.backlogKey) payload.backlog_key = placement.backlogKey;
      try {
        const entries = this.entries(prepared, placement?.priority ?? 1);
        if (entries.length === 1) await this.queueFor(request.model).add(job.model_version, payload, this.jobOptions(prepared, placement?.priority ?? 1));
        else await this.queueFor(request.model).addBulk(entries);
      } catch (error) {
        // The key must not point at a job that was never enqueued: a retry should enqueue it.
        if (idempotencyRedisKey) await this.deps.redis.del(idempotencyRedisKey).catch(() => undefined);
        if (placement?.backlogKey) await this.deps.redis.decr(placement.backlogKey).catch(() => undefined);
        throw error;
      }
      this.deps.metrics?.jobSubmitted(job.model, job.model_version);
      return { job, created: true };
    });
  }

  /**
   * Submits many jobs in one call: each is validated on its own (a bad one gets its error in
   * its place, the others go ahead), and each model's jobs are added in one round trip.
   */
  async submitMany(requests: JobRequest[], requestId: string, tenant: string): Promise<BulkItem[]> {
    const now = Date.now();
    const items: BulkItem[] = [];
    const byModel = new Map<string, { index: number; prepared: Prepared }[]>();
    for (const [index, request] of requests.entries()) {
      try {
        const prepared = await this.prepare(request, requestId, tenant, now);
        await guardRedis(() => this.deps.admission.checkDepth(request.model, prepared.manifest));
        const list = byModel.get(request.model) ?? [];
        list.push({ index, prepared });
        byModel.set(request.model, list);
        items[index] = { ...prepared.job, poll_url: `/v1/jobs/${encodeURIComponent(prepared.job.job_id)}` };
      } catch (error) {
        if (!(error instanceof InferqError)) throw error;
        items[index] = { error: error.toBody() };
      }
    }
    await guardRedis(async () => {
      for (const [model, list] of byModel) {
        const bulk: { name: string; data: QueuePayload; opts: JobsOptions }[] = [];
        // One backlog count per model and priority class covers every job of this call.
        for (const priorityClass of new Set(list.map((l) => l.prepared.priorityClass))) {
          const same = list.filter((l) => l.prepared.priorityClass === priorityClass);
          const placements = await this.deps.admission.placements(model, tenant, priorityClass, same.length);
          same.forEach(({ prepared }, i) => {
            const placement = placements[i] ?? { priority: 1 };
            if (placement.backlogKey) prepared.payload.backlog_key = placement.backlogKey;
            bulk.push(...this.entries(prepared, placement.priority));
          });
        }
        await this.queueFor(model).addBulk(bulk);
        for (const { prepared } of list) this.deps.metrics?.jobSubmitted(model, prepared.job.model_version);
      }
    });
    return items;
  }

  /** Checks format and size from the header only; the worker decodes. Returns canonical base64. */
  private async checkImage(manifest: ModelManifest, data: string): Promise<string> {
    if (!manifest.preprocess) throw new InferqError('IMAGE_NOT_SUPPORTED', 'this model takes tensors (inputs: [...]), not images');
    const base64 = data.replace(/^data:[^,]*;base64,/, '');
    if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(base64)) throw new InferqError('IMAGE_INVALID', 'image.data is not base64');
    const bytes = Buffer.from(base64, 'base64');
    await probeImage(bytes, { maxPixels: this.deps.config.maxImagePixels });
    return base64;
  }

  /** Another tenant's job is answered exactly like one that does not exist. */
  private ownJob(jobId: string, tenant: string): { model: string } {
    const parsed = parseJobId(jobId);
    if (!parsed || parsed.tag !== tenantTag(tenant) || !this.deps.queues.has(parsed.model)) throw notFound(jobId);
    return parsed;
  }

  async get(jobId: string, tenant: string): Promise<JobView> {
    const parsed = this.ownJob(jobId, tenant);
    const { keys } = this.deps;
    // Read the queue's job before the result: a worker writes the result first and removes the
    // job second, so whichever moment this lands in, one of the two is seen. Both commands go on
    // the one connection, in this order (auto-pipelined with other requests' commands).
    const [fields, result] = await guardRedis(() =>
      Promise.all([this.deps.redis.hmget(keys.bullJob(parsed.model, jobId), 'name', 'timestamp', 'processedOn'), this.deps.redis.get(keys.result(jobId))]),
    );
    const [name, timestamp, processedOn] = fields;
    if (result) return this.owned(JSON.parse(result) as FinishedJobRecord, tenant);
    if (timestamp && name) {
      return {
        job_id: jobId,
        status: processedOn ? 'running' : 'queued',
        model: parsed.model,
        model_version: name,
        created_at: new Date(Number(timestamp)).toISOString(),
        started_at: processedOn ? new Date(Number(processedOn)).toISOString() : null,
        finished_at: null,
        timings: null,
        batch_size: null,
      };
    }
    throw notFound(jobId);
  }

  /**
   * Holds until the job finishes or `waitMs` passes, with no polling of Redis meanwhile: one read
   * before waiting and, once woken by the job's end, one read of its result. `declined`: the
   * process already held as many long-polls as it may, so this one was answered at once.
   */
  async waitFor(jobId: string, tenant: string, waitMs: number, signal?: AbortSignal): Promise<{ view: JobView; declined: boolean }> {
    if (waitMs <= 0) return { view: await this.get(jobId, tenant), declined: false };
    this.ownJob(jobId, tenant);
    // Registered before the read, so a finish between the two is not missed.
    const waiter = this.deps.completions.waitFor(jobId, waitMs, signal);
    if (!waiter) return { view: await this.get(jobId, tenant), declined: true };
    let notified = false;
    try {
      const view = await this.get(jobId, tenant);
      if (isFinished(view)) return { view, declined: false };
      notified = await waiter.done;
    } finally {
      waiter.cancel();
    }
    if (notified) {
      const finished = await guardRedis(() => this.deps.redis.get(this.deps.keys.result(jobId)));
      if (finished) return { view: this.owned(JSON.parse(finished) as FinishedJobRecord, tenant), declined: false };
    }
    return { view: await this.get(jobId, tenant), declined: false };
  }

  private owned(record: FinishedJobRecord, tenant: string): FinishedJobRecord {
    if (record.tenant !== undefined && record.tenant !== tenant) throw notFound(record.job_id);
    return record;
  }

  async cancel(jobId: string, tenant: string): Promise<FinishedJobRecord> {
    const parsed = this.ownJob(jobId, tenant);
    const { keys, redis } = this.deps;
    return guardRedis(async () => {
      const job = await this.queueFor(parsed.model).getJob(jobId);
      if (!job) {
        const finished = await redis.get(keys.result(jobId));
        if (!finished) throw notFound(jobId);
        const status = (JSON.parse(finished) as FinishedJobRecord).status;
        throw new InferqError('JOB_NOT_CANCELABLE', `the job has already ${status === 'canceled' ? 'been canceled' : status}`, { details: { status } });
      }
      if (job.processedOn) throw new InferqError('JOB_NOT_CANCELABLE', 'the job is running', { details: { status: 'running' } });
      // Ids that parse as job ids are single jobs, never batch chunks.
      const data = job.data as JobPayload;
      const now = Date.now();
      const record: FinishedJobRecord = {
        job_id: jobId,
        status: 'canceled',
        model: parsed.model,
        model_version: job.name,
        created_at: new Date(data.created_at).toISOString(),
        started_at: null,
        finished_at: new Date(now).toISOString(),
        timings: null,
        batch_size: null,
        ...(data.metadata ? { metadata: data.metadata } : {}),
        tenant,
        expires_at: new Date(now + data.ttl_ms).toISOString(),
      };
      const value = JSON.stringify(record);
      // The canceled record goes in before the job leaves the queue, so a poll never finds
      // neither; NX keeps a result a worker wrote in the meantime.
      const placed = await redis.set(keys.result(jobId), value, 'PX', data.ttl_ms, 'NX');
      if (!placed) throw new InferqError('JOB_NOT_CANCELABLE', 'the job has already finished', { details: {} });
      try {
        await job.remove();
      } catch (error) {
        await redis.eval(DELETE_IF_EQUAL, 1, keys.result(jobId), value);
        if (isRedisUnavailableError(error)) throw error;
        throw new InferqError('JOB_NOT_CANCELABLE', 'the job is running', { details: { status: 'running' } });
      }
      const pipeline = redis.pipeline().publish(keys.jobsFinishedChannel(), jobId);
      if (data.backlog_key) pipeline.decr(data.backlog_key);
      await pipeline.exec();
      // No worker ever sees a canceled job, so its job.canceled event is queued here.
      if (data.webhook) await this.deps.webhooks.announce([{ record, webhook: data.webhook }]);
      this.deps.metrics?.jobCanceled(record.model, record.model_version);
      return record;
    });
  }
}

function notFound(jobId: string): InferqError {
  return new InferqError('JOB_NOT_FOUND', `no job ${jobId}: it never existed, or its result expired`, { details: { job_id: jobId } });
}

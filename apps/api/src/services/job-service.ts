import type { JobsOptions, Queue } from 'bullmq';
import type { Config } from '@inferq/core/config';
import { InferqError, type ErrorBody } from '@inferq/core/errors';
import { newBundleId, parseJobId, tenantTag, type ParsedJobId } from '@inferq/core/job-id';
import { ownerModel } from '@inferq/core/keyspace';
import type { BundledRequest, BundlePayload, FinishedJobRecord, JobPayload, QueuePayload, RoutedBy, ShadowBundlePayload } from '@inferq/core/job-types';
import { guardRedis, isRedisOutcomeUnknownError, storageFull } from '@inferq/core/redis-connection';
import { probeImage } from '@inferq/inference/image-preprocess';
import { validateModelInput } from '@inferq/inference/input-validation';
import type { ModelManifest } from '@inferq/inference/manifest';
import { packTensor } from '@inferq/inference/tensor-codec';
import { bodyDigest, type IdempotencyKeys } from '@inferq/jobs/idempotency-keys';
import { finishedRecordCodec } from '@inferq/jobs/job-codecs';
import type { JobStore } from '@inferq/jobs/job-store';
import { assertWebhookUrl } from '@inferq/webhooks/ssrf-guard';
import type { WebhookProducer } from '@inferq/webhooks/webhook-service';
import { DEFAULT_PRIORITY, type Admission } from './admission.ts';
import { BundleCommitter, type BundleSlot, type SealedBundle } from './bundle-committer.ts';
import { JobCanceller } from './job-canceller.ts';
import { notFound } from './job-errors.ts';
import type { CompletionListener, Waiter } from './completion-listener.ts';
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

/** A validated request, before it has a place in a bundle. */
interface Prepared {
  model: string;
  version: string;
  routedBy: RoutedBy;
  /** The request's payload, less its id and created_at, which its bundle place gives it. */
  payload: Omit<JobPayload, 'created_at' | 'backlog_key'>;
  manifest: ModelManifest;
  priorityClass: number;
  rows: number;
  bytes: number;
}

/** One entry of a bulk submit's answer, in request order: the job, or why it was refused. */
export type BulkItem = (SubmittedJob & { poll_url: string }) | { error: ErrorBody };

/** A bundle add that was sent but not answered: its requests may or may not be queued. */
class AddOutcomeUnknown extends Error {
  constructor(cause: unknown) {
    // Not the cause's message: guardRedis would read "Command timed out" in it as "not stored".
    super('the queue add was sent but not answered', { cause });
    this.name = 'AddOutcomeUnknown';
  }
}

/** How long after its creation a job an Idempotency-Key names must still be readable, if it was ever stored. */
const REPLAY_CHECK_WINDOW_MS = 10 * 60_000;
/**
 * How long an add sent before an outage may still reach Redis: ioredis' command timeout (5 s),
 * its reconnects, and its sending unanswered commands again once reconnected, with a margin.
 */
const ADD_SETTLE_MS = 30_000;
/** Before this, a replay does not look for the job: the submit that claimed the key may still be adding it (ioredis' command timeout, and a margin). */
const ADD_IN_FLIGHT_MS = 6_000;

/** What a bundle key names: requests that may share one queue job. */
interface BundleKey {
  model: string;
  version: string;
  priorityClass: number;
  tenant: string;
}

const bundleKeyOf = (k: BundleKey) => `${k.model}\u0000${k.version}\u0000${k.priorityClass}\u0000${k.tenant}`;

function parseBundleKey(key: string): BundleKey {
  const [model = '', version = '', priorityClass = '5', tenant = ''] = key.split('\u0000');
  return { model, version, priorityClass: Number(priorityClass), tenant };
}

/**
 * Finished bundles stay a while so the queue dashboard shows recent work (bounded, as they hold
 * their requests' payloads); GET never reads them for a result: the request's record decides.
 */
const KEPT_FOR_THE_DASHBOARD = { removeOnComplete: { count: 200, age: 3600 }, removeOnFail: { count: 1000, age: 86_400 } } as const;

export interface JobServiceDeps {
  config: Config;
  store: JobStore;
  idempotency: IdempotencyKeys;
  catalog: ModelCatalog;
  queues: Map<string, Queue<QueuePayload>>;
  completions: CompletionListener;
  webhooks: WebhookProducer;
  admission: Admission;
  routing: RoutingService;
  /** Log canceled requests to the prediction log (INFERQ_PREDICTION_LOG). */
  predictionLog?: boolean;
  /** Counts submits (traffic split by version) and cancellations for /metrics. */
  metrics?: { jobSubmitted(model: string, version: string): void; jobCanceled(model: string, version: string): void };
  /** Told of bulk items refused because Redis is out of memory (whole refusals reach it through the error handler). */
  storage?: { refused(): void };
}

/**
 * Submit, read, long-poll and cancel jobs (requests). Requests are queued in bundles (see
 * BundleCommitter): one queue job per bundle, while each request keeps its own id, status,
 * result, TTL, idempotency key and webhook. Stateless: all state is in Redis, behind the JobStore.
 */
export class JobService {
  private readonly committer: BundleCommitter<BundledRequest>;
  private readonly canceller: JobCanceller;

  constructor(private readonly deps: JobServiceDeps) {
    this.canceller = new JobCanceller(deps);
    this.committer = new BundleCommitter<BundledRequest>(
      (key, bundles) => this.queueBundles(parseBundleKey(key), bundles),
      (key) => {
        const { model, tenant } = parseBundleKey(key);
        return newBundleId(model, tenant);
      },
    );
  }

  private queueFor(model: string): Queue<QueuePayload> {
    const queue = this.deps.queues.get(model);
    if (!queue) throw new InferqError('MODEL_NOT_FOUND', `no model named ${model}`);
    return queue;
  }

  /** Validates a request against its model and builds its payload; nothing touches Redis. */
  private async prepare(request: JobRequest, requestId: string, tenant: string): Promise<Prepared> {
    const { config } = this.deps;
    const routed = this.deps.routing.decide(request.model, request.version, request.routing_key);
    const version = routed.entry;
    const manifest = version.manifest as ModelManifest;
    if (version.pipeline && !request.image) throw new InferqError('IMAGE_REQUIRED', `${request.model} is a pipeline: send a page image (an image upload, or image: {data: <base64>})`);
    const validated = request.image
      ? { inputs: [], response: 'prediction' as const, image: await this.checkImage(manifest, request.image.data, version.pipeline !== undefined) }
      : validateModelInput(manifest, request, config.maxRowsPerJob);
    if (request.webhook) assertWebhookUrl(request.webhook.url, this.deps.webhooks.policy);
    const inputs = validated.inputs.map(packTensor);
    const now = Date.now();
    const payload: Prepared['payload'] = {
      inputs,
      response: validated.response,
      ...('image' in validated ? { image: validated.image } : {}),
      ...(request.include_outputs ? { include_outputs: true } : {}),
      ttl_ms: (request.ttl_seconds ?? config.resultTtlSeconds) * 1000,
      ...(request.metadata ? { metadata: request.metadata } : {}),
      request_id: requestId,
      tenant,
      ...(request.deadline_seconds ? { deadline_at: now + request.deadline_seconds * 1000 } : {}),
      ...(request.webhook ? { webhook: request.webhook } : {}),
      routed_by: routed.routed_by,
      ...(routed.fallback ? { fallback_version: routed.fallback } : {}),
      ...(routed.shadow ? { shadow_version: routed.shadow } : {}),
      ...(request.routing_key !== undefined ? { routing_key: request.routing_key } : {}),
    };
    const bytes = 256 + inputs.reduce((n, t) => n + t.bytes.length, 0) + (payload.image?.length ?? 0) + (request.metadata ? JSON.stringify(request.metadata).length : 0);
    const rows = inputs[0]?.shape[0] ?? 1;
    return { model: request.model, version: version.version, routedBy: routed.routed_by, payload, manifest, priorityClass: request.priority ?? DEFAULT_PRIORITY, rows, bytes };
  }

  /** A place in the next bundle of the request's model, version, priority and tenant. */
  private reserve(prepared: Prepared, tenant: string): BundleSlot<BundledRequest> {
    const key = bundleKeyOf({ model: prepared.model, version: prepared.version, priorityClass: prepared.priorityClass, tenant });
    return this.committer.reserve(key, { maxRows: Math.max(1, prepared.manifest.max_batch_size), maxBytes: this.deps.config.bundleMaxBytes }, prepared.rows, prepared.bytes);
  }

  private submitted(prepared: Prepared, slot: BundleSlot<BundledRequest>): SubmittedJob {
    return {
      job_id: slot.jobId,
      status: 'queued',
      model: prepared.model,
      model_version: prepared.version,
      created_at: new Date(slot.createdAt).toISOString(),
      routed_by: prepared.routedBy,
    };
  }

  /**
   * Queues one key's bundles in one round trip: each bundle, and behind it the shadow copies of
   * its requests that have one. Requests are counted in the model's depth (and their tenant's
   * backlog) first; a failed add takes the count back.
   */
  private async queueBundles(key: BundleKey, bundles: SealedBundle<BundledRequest>[]): Promise<void> {
    const count = bundles.reduce((n, b) => n + b.items.length, 0);
    const { priority, counters } = await this.deps.admission.admit(key.model, key.tenant, key.priorityClass, count);
    const entries: { name: string; data: QueuePayload; opts: JobsOptions }[] = [];
    for (const bundle of bundles) {
      const data: BundlePayload = { kind: 'bundle', requests: bundle.items, counted_in: counters };
      entries.push({
        name: key.version,
        data,
        opts: { jobId: bundle.id, timestamp: bundle.createdAt, priority, attempts: this.deps.config.jobAttempts, backoff: { type: 'exponential', delay: 500 }, ...KEPT_FOR_THE_DASHBOARD },
      });
      const shadows = new Map<string, ShadowBundlePayload['copies']>();
      for (const r of bundle.items) {
        if (!r.shadow_version) continue;
        const copies = shadows.get(r.shadow_version) ?? [];
        copies.push({
          primary_job_id: r.id,
          primary_version: key.version,
          inputs: r.inputs,
          ...(r.image !== undefined ? { image: r.image } : {}),
          response: r.response,
          created_at: r.created_at,
          tenant: key.tenant,
          ...(r.request_id ? { request_id: r.request_id } : {}),
          ...(r.routing_key !== undefined ? { routing_key: r.routing_key } : {}),
        });
        shadows.set(r.shadow_version, copies);
      }
      // Queued right behind their primaries at the same priority; never retried, never kept.
      for (const [version, copies] of shadows) {
        const shadow: ShadowBundlePayload = { kind: 'shadows', copies };
        entries.push({ name: version, data: shadow, opts: { jobId: `${bundle.id}-shadow-${version}`, timestamp: bundle.createdAt, priority, attempts: 1, removeOnComplete: true, removeOnFail: true } });
      }
    }
    try {
      const queue = this.queueFor(key.model);
      if (entries.length === 1) {
        const [only] = entries as [(typeof entries)[number]];
        await queue.add(only.name, only.data, only.opts);
      } else {
        await queue.addBulk(entries);
      }
    } catch (error) {
      // Sent but unanswered: the requests may be queued, so their count stays (it settles once the queue empties).
      if (isRedisOutcomeUnknownError(error)) throw new AddOutcomeUnknown(error);
      await this.deps.admission.release(counters, count).catch(() => undefined);
      throw error;
    }
    for (const bundle of bundles) for (let i = 0; i < bundle.items.length; i++) this.deps.metrics?.jobSubmitted(key.model, key.version);
  }

  /**
   * Puts a prepared request in a bundle and waits until the bundle is queued. With an
   * Idempotency-Key, the key is claimed first (one Redis call): a replay withdraws the place and
   * returns the job the key already names. `beforeQueued` runs once the request has its id, before
   * it can possibly finish (a Prefer: wait registers its long-poll there).
   */
  private async enqueue(prepared: Prepared, tenant: string, idempotency?: { key: string; bodySha256: string }, beforeQueued?: (jobId: string) => void): Promise<{ job: SubmittedJob; created: boolean }> {
    const { idempotency: idempotencyKeys } = this.deps;
    const slot = this.reserve(prepared, tenant);
    const job = this.submitted(prepared, slot);
    let decided = false;
    let claimed = false;
    try {
      if (idempotency) {
        const claim = { job, body_sha256: idempotency.bodySha256 };
        let previous = await guardRedis(() => idempotencyKeys.claim(tenant, idempotency.key, claim));
        // A key left by a submit whose outcome was unknown: its job may still arrive for a while
        // (ioredis sends an unanswered add again once it reconnects); after that, one never stored is taken over.
        if (previous && previous.body_sha256 === idempotency.bodySha256) {
          const named = previous.job.job_id;
          const state = await this.storedState(named, previous.job.created_at);
          if (state === 'unsettled') throw outcomeUnknown(named, undefined);
          if (state === 'never') previous = await guardRedis(() => idempotencyKeys.replace(tenant, idempotency.key, named, claim));
        }
        if (previous) {
          decided = true;
          slot.withdraw();
          if (previous.body_sha256 !== idempotency.bodySha256) {
            throw new InferqError('IDEMPOTENCY_KEY_REUSED', undefined, { details: { job_id: previous.job.job_id } });
          }
          return { job: previous.job as SubmittedJob, created: false };
        }
        claimed = true;
      }
      beforeQueued?.(slot.jobId);
      decided = true;
      await guardRedis(() => slot.commit({ ...prepared.payload, id: slot.jobId, created_at: slot.createdAt }));
      return { job, created: true };
    } catch (error) {
      if (error instanceof AddOutcomeUnknown) {
        // The key keeps naming the job: a retry with it returns the job if it was stored, and queues it if not.
        throw outcomeUnknown(slot.jobId, error.cause);
      }
      if (!decided) slot.withdraw();
      // The key must not point at a job that was never enqueued: a retry should enqueue it.
      if (claimed && idempotency) await idempotencyKeys.release(tenant, idempotency.key).catch(() => undefined);
      throw error;
    }
  }

  /**
   * Whether the job an Idempotency-Key names exists: 'stored' (queued or finished, too young to be
   * looked for, or too old to tell from an expired one), 'never' (absent, and too late for a
   * delayed add to arrive), or 'unsettled' (absent, but an add sent before an outage may still arrive).
   */
  private async storedState(jobId: string, createdAt: string): Promise<'stored' | 'never' | 'unsettled'> {
    const age = Date.now() - Date.parse(createdAt);
    const parsed = parseJobId(jobId);
    // Younger than a command timeout: the submit that claimed the key may still be queuing it.
    if (!parsed || age < ADD_IN_FLIGHT_MS || age > REPLAY_CHECK_WINDOW_MS) return 'stored';
    if ((await guardRedis(() => this.deps.store.readRequest({ ...parsed, jobId }))) !== undefined) return 'stored';
    return age < ADD_SETTLE_MS ? 'unsettled' : 'never';
  }

  /** Returns the job and whether this call created it (false: an idempotent replay). */
  async submit(request: JobRequest, idempotencyKey: string | undefined, requestId: string, tenant: string): Promise<{ job: SubmittedJob; created: boolean }> {
    const prepared = await this.prepare(request, requestId, tenant);
    await guardRedis(() => this.deps.admission.checkDepth(request.model, prepared.manifest));
    return this.enqueue(prepared, tenant, idempotencyKey === undefined ? undefined : { key: idempotencyKey, bodySha256: bodyDigest(request) });
  }

  /**
   * Submits and holds until the job ends or `waitMs` passes (`Prefer: wait`). The long-poll is
   * registered once the request has its id and before it is queued, so no read of Redis is needed
   * before waiting, and the finished record comes with the notice. `view` is undefined when the
   * job did not end in time; `declined` when this process already held all the long-polls it may.
   */
  async submitAndWait(request: JobRequest, idempotencyKey: string | undefined, requestId: string, tenant: string, waitMs: number, signal?: AbortSignal): Promise<{ job: SubmittedJob; created: boolean; view?: JobView; declined: boolean }> {
    const prepared = await this.prepare(request, requestId, tenant);
    await guardRedis(() => this.deps.admission.checkDepth(request.model, prepared.manifest));
    const listening = this.deps.completions.listen(request.model);
    if (listening) await guardRedis(() => listening);
    let waiter: Waiter | undefined;
    let declined = false;
    try {
      const submitted = await this.enqueue(prepared, tenant, idempotencyKey === undefined ? undefined : { key: idempotencyKey, bodySha256: bodyDigest(request) }, (jobId) => {
        waiter = this.deps.completions.waitFor(jobId, waitMs, signal);
        declined = waiter === undefined;
      });
      if (!submitted.created) {
        const waited = await this.waitFor(submitted.job.job_id, tenant, waitMs, signal);
        return { ...submitted, ...(isFinished(waited.view) ? { view: waited.view } : {}), declined: waited.declined };
      }
      if (!waiter) return { ...submitted, declined };
      const notice = await waiter.done;
      const view = notice ? await this.finishedFromNotice(submitted.job.job_id, tenant, notice.record) : undefined;
      return { ...submitted, ...(view ? { view } : {}), declined };
    } finally {
      waiter?.cancel();
    }
  }

  /**
   * Submits many jobs in one call: each is validated on its own (a bad one gets its error in
   * its place, the others go ahead); they join bundles like single submits, so each model's
   * jobs are queued in one round trip.
   */
  async submitMany(requests: JobRequest[], requestId: string, tenant: string): Promise<BulkItem[]> {
    const items: BulkItem[] = [];
    const queued: Promise<void>[] = [];
    for (const [index, request] of requests.entries()) {
      try {
        const prepared = await this.prepare(request, requestId, tenant);
        await guardRedis(() => this.deps.admission.checkDepth(request.model, prepared.manifest));
        queued.push(
          this.enqueue(prepared, tenant).then(
            ({ job }) => {
              items[index] = { ...job, poll_url: `/v1/jobs/${encodeURIComponent(job.job_id)}` };
            },
            (error: unknown) => {
              if (!(error instanceof InferqError)) throw error;
              items[index] = { error: error.toBody() };
            },
          ),
        );
      } catch (error) {
        if (!(error instanceof InferqError)) throw error;
        items[index] = { error: error.toBody() };
      }
    }
    await Promise.all(queued);
    // Redis was unreachable for every job: one 503 the client can retry, as for a single submit.
    const unavailable = items.filter((i) => 'error' in i && i.error.code === 'REDIS_UNAVAILABLE');
    if (unavailable.length > 0 && unavailable.length === queued.length) throw new InferqError('REDIS_UNAVAILABLE', undefined, { retryAfterSeconds: 2 });
    // Likewise when Redis was out of memory for every job.
    const full = items.filter((i) => 'error' in i && i.error.code === 'STORAGE_FULL');
    if (full.length > 0 && full.length === queued.length) throw storageFull(undefined);
    if (full.length > 0) this.deps.storage?.refused();
    return items;
  }

  /** Checks format and size from the header only; the worker decodes. Returns canonical base64. */
  private async checkImage(manifest: ModelManifest, data: string, pipeline = false): Promise<string> {
    if (!manifest.preprocess && !pipeline) throw new InferqError('IMAGE_NOT_SUPPORTED', 'this model takes tensors (inputs: [...]), not images');
    const base64 = data.replace(/^data:[^,]*;base64,/, '');
    if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(base64)) throw new InferqError('IMAGE_INVALID', 'image.data is not base64');
    const bytes = Buffer.from(base64, 'base64');
    await probeImage(bytes, { maxPixels: this.deps.config.maxImagePixels });
    return base64;
  }

  /** Another tenant's job is answered exactly like one that does not exist. */
  private ownJob(jobId: string, tenant: string): ParsedJobId & { jobId: string } {
    const parsed = parseJobId(jobId);
    if (!parsed || parsed.tag !== tenantTag(tenant) || !this.deps.queues.has(parsed.model)) throw notFound(jobId);
    return { ...parsed, jobId };
  }

  async get(jobId: string, tenant: string): Promise<JobView> {
    const id = this.ownJob(jobId, tenant);
    const state = await guardRedis(() => this.deps.store.readRequest(id));
    if (!state) throw notFound(jobId);
    if ('finished' in state) return this.owned(state.finished, tenant);
    const { pending } = state;
    return {
      job_id: jobId,
      status: pending.startedAt === undefined ? 'queued' : 'running',
      model: id.model,
      model_version: pending.version,
      created_at: new Date(pending.createdAt).toISOString(),
      started_at: pending.startedAt === undefined ? null : new Date(pending.startedAt).toISOString(),
      finished_at: null,
      timings: null,
      batch_size: null,
    };
  }

  /**
   * Holds until the job finishes or `waitMs` passes, with no polling of Redis meanwhile: one read
   * before waiting; the notice of the job's end carries its record, so none after. `declined`:
   * the process already held as many long-polls as it may, so this one was answered at once.
   */
  async waitFor(jobId: string, tenant: string, waitMs: number, signal?: AbortSignal): Promise<{ view: JobView; declined: boolean }> {
    if (waitMs <= 0) return { view: await this.get(jobId, tenant), declined: false };
    this.ownJob(jobId, tenant);
    const listening = this.deps.completions.listen(ownerModel(jobId));
    if (listening) await guardRedis(() => listening);
    // Registered before the read, so a finish between the two is not missed.
    const waiter = this.deps.completions.waitFor(jobId, waitMs, signal);
    if (!waiter) return { view: await this.get(jobId, tenant), declined: true };
    try {
      const view = await this.get(jobId, tenant);
      if (isFinished(view)) return { view, declined: false };
      const notice = await waiter.done;
      const finished = notice ? await this.finishedFromNotice(jobId, tenant, notice.record) : undefined;
      return { view: finished ?? (await this.get(jobId, tenant)), declined: false };
    } finally {
      waiter.cancel();
    }
  }

  /** The finished record a completion notice carried, or (a notice without one) as read from Redis; another tenant's is a 404. */
  async finishedFromNotice(jobId: string, tenant: string, record: string | undefined): Promise<FinishedJobRecord | undefined> {
    const finished = record === undefined ? await guardRedis(() => this.deps.store.readFinished(jobId)) : finishedRecordCodec.decode(record);
    return finished ? this.owned(finished, tenant) : undefined;
  }

  private owned(record: FinishedJobRecord, tenant: string): FinishedJobRecord {
    if (record.tenant !== undefined && record.tenant !== tenant) throw notFound(record.job_id);
    return record;
  }

  /** Cancels a queued or running request (see JobCanceller). */
  cancel(jobId: string, tenant: string): Promise<FinishedJobRecord> {
    return this.canceller.cancel(this.ownJob(jobId, tenant), tenant);
  }
}

function outcomeUnknown(jobId: string, cause: unknown): InferqError {
  return new InferqError('SUBMIT_OUTCOME_UNKNOWN', `the job store stopped answering while job ${jobId} was being stored: it may exist; retry with the same Idempotency-Key`, {
    retryAfterSeconds: 5,
    details: { job_id: jobId },
    cause,
  });
}

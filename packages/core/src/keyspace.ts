/**
 * The hash tag of everything a model owns: on a Redis Cluster a key's slot is decided by the text
 * between its first `{` and `}`, so a model's queue, its requests' records, counters, routing and
 * prediction log share one slot (its scripts and transactions touch them together) while
 * different models spread over the masters.
 */
export function modelTag(model: string): string {
  return `{${model}}`;
}

/**
 * The model that owns a job, bundle or batch id: request and bundle ids start with `<model>.`,
 * batch ids are `batch-<model>-<26-character ULID>` (job-id.ts), batch rows' prediction ids
 * `<batch id>:<row>`. Anything else is its own owner.
 */
export function ownerModel(id: string): string {
  if (id.startsWith('batch-')) {
    // A batch row's prediction id is `<batch id>:<row>`.
    const colon = id.indexOf(':');
    const end = colon < 0 ? id.length : colon;
    if (end > 33) return id.slice(6, end - 27);
  }
  const dot = id.indexOf('.');
  return dot > 0 ? id.slice(0, dot) : id;
}

/** Items grouped by the model that owns their id (a cluster slot each), in first-seen order. */
export function groupByOwnerModel<T>(items: readonly T[], idOf: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const model = ownerModel(idOf(item));
    const group = groups.get(model);
    if (group) group.push(item);
    else groups.set(model, [item]);
  }
  return groups;
}

/**
 * Every Redis key and channel inferq uses, in one place. BullMQ owns `<prefix>:<queue>:*`;
 * inferq's own keys sit beside them under the same prefix so one prefix isolates a deployment.
 * Keys a model owns carry its hash tag (modelTag); the few shared ones carry their own (`{workers}`)
 * or none (single-key state such as rate limits and idempotency keys, spread by their own hash).
 */
export class Keyspace {
  constructor(readonly prefix: string) {}

  /** One BullMQ queue per model, so each model batches, scales and backs up on its own (and, on a cluster, lives on its own slot). */
  modelQueue(model: string): string {
    return `model-${modelTag(model)}`;
  }

  /** BullMQ's hash for a job (its layout is BullMQ's: `<prefix>:<queue>:<jobId>`). */
  bullJob(model: string, jobId: string): string {
    return `${this.prefix}:${this.modelQueue(model)}:${jobId}`;
  }

  /** One of BullMQ's per-queue keys (`wait`, `prioritized`, `active`, `paused`, ...), BullMQ's layout. */
  bullQueueKey(model: string, name: string): string {
    return `${this.prefix}:${this.modelQueue(model)}:${name}`;
  }

  /** A finished job (succeeded, failed or canceled), kept for exactly its TTL. */
  result(jobId: string): string {
    return `${this.prefix}:result:${modelTag(ownerModel(jobId))}:${jobId}`;
  }

  idempotency(keyHash: string): string {
    return `${this.prefix}:idempotency:${keyHash}`;
  }

  /** Sorted set of worker ids by last heartbeat (epoch ms). */
  workers(): string {
    return `${this.prefix}:{workers}`;
  }

  /** A worker's report of the model versions it serves and their load state; expires unless renewed. */
  workerReport(workerId: string): string {
    return `${this.prefix}:{workers}:${workerId}`;
  }

  /** A batch scoring job's record (hash: status, counters, timings). */
  batch(batchId: string): string {
    return `${this.prefix}:batch:${modelTag(ownerModel(batchId))}:${batchId}`;
  }

  /** One chunk's result lines (NDJSON, in row order). */
  batchChunk(batchId: string, chunk: number): string {
    return `${this.prefix}:batch:${modelTag(ownerModel(batchId))}:${batchId}:chunk:${chunk}`;
  }

  /** A tenant's rate-limit state (GCRA theoretical arrival time, epoch ms). */
  rateLimit(tenant: string): string {
    return `${this.prefix}:rate:${tenant}`;
  }

  /** How many requests a model's queue holds (bundles count each request), for the depth limit. */
  queuedRequests(model: string): string {
    return `${this.prefix}:queued:${modelTag(model)}`;
  }

  /** How many of a tenant's jobs a model's queue holds, for fair ordering between tenants. */
  tenantBacklog(model: string, tenant: string): string {
    return `${this.prefix}:backlog:${modelTag(model)}:${tenant}`;
  }

  /**
   * Published (SPUBLISH: a sharded channel, on the model's own master) when a model's jobs or
   * batches end (see completion-message.ts): a finished job's line carries its record, so a held
   * long-poll answers from the message without reading Redis again.
   */
  jobsFinishedChannel(model: string): string {
    return `${this.prefix}:jobs-finished:${modelTag(model)}`;
  }

  /**
   * Published when something moves short of its end (see progress-message.ts): a bundle a worker
   * took (every request in it is running) or a batch that recorded a chunk or closed its ingest.
   * Only API processes holding event streams subscribe. Sharded (SPUBLISH), per model.
   */
  progressChannel(model: string): string {
    return `${this.prefix}:progress:${modelTag(model)}`;
  }

  /** The BullMQ queue of webhook deliveries: one queue for every model, apart from inference. */
  webhookQueue(): string {
    return '{webhooks}';
  }

  /** The BullMQ queue whose jobs are schedule ticks (BullMQ's job schedulers put one on it per tick), one for every model. */
  schedulesQueue(): string {
    return '{schedules}';
  }

  /** A job's webhook subscription (url, events), kept with its result for redelivery. */
  webhookSubscription(jobId: string): string {
    return `${this.prefix}:webhook:${modelTag(ownerModel(jobId))}:${jobId}`;
  }

  /** Hash of a job's deliveries (delivery id → summary), expiring with the job's result. */
  webhookDeliveries(jobId: string): string {
    return `${this.prefix}:webhook-deliveries:${modelTag(ownerModel(jobId))}:${jobId}`;
  }

  /** List of one delivery's attempts, oldest first, expiring with the job's result (beside the job's deliveries). */
  webhookAttempts(ownerId: string, deliveryId: string): string {
    return `${this.prefix}:webhook-attempts:${modelTag(ownerModel(ownerId))}:${deliveryId}`;
  }

  /** A tenant's generated signing secret (only when none is configured); written once, SET NX. */
  webhookSecret(tenant: string): string {
    return `${this.prefix}:webhook-secret:${tenant}`;
  }

  /** A model's routing policy (hash: `revision`, `policy` JSON); absent: the default policy. */
  routing(model: string): string {
    return `${this.prefix}:routing:${modelTag(model)}`;
  }

  /** Published with a model name whenever its routing policy changes; API processes drop their cached copy. */
  routingChannel(): string {
    return `${this.prefix}:routing-changed`;
  }

  /** List of a model's routing events (rollbacks, policy changes), newest first, capped. */
  routingEvents(model: string): string {
    return `${this.prefix}:routing-events:${modelTag(model)}`;
  }

  /** Held (SET NX PX) by the API process that checks a model's guardrails this round. */
  guardrailLock(model: string): string {
    return `${this.prefix}:guardrail-lock:${modelTag(model)}`;
  }

  /** Sorted set of one version's recent outcomes (score: epoch ms), shared by every worker. */
  versionHealth(model: string, version: string): string {
    return `${this.prefix}:health:${modelTag(model)}:${version}`;
  }

  /** The two halves (primary, shadow) of one shadowed job, until both are in and compared. */
  shadowPair(jobId: string): string {
    return `${this.prefix}:shadow-pair:${modelTag(ownerModel(jobId))}:${jobId}`;
  }

  /** List of a model's recent primary/shadow comparisons, newest first, capped. */
  shadowLog(model: string): string {
    return `${this.prefix}:shadow-log:${modelTag(model)}`;
  }

  /** A model's prediction log (stream; one field `r`, a PredictionRecord as JSON), bounded by length and age. */
  predictions(model: string): string {
    return `${this.prefix}:predictions:${modelTag(model)}`;
  }

  /** Hash of one hour's (by id time) logged predictions: prediction id → "<stream id> <tenant>", for labels. */
  predictionIndex(model: string, hourBucket: number): string {
    return `${this.prefix}:prediction-index:${modelTag(model)}:${hourBucket}`;
  }

  /** Sorted set (lex) of one hour's predictions by routing key: "<routing key>\0<stream id>\0<prediction id>". */
  predictionKeys(model: string, hourBucket: number): string {
    return `${this.prefix}:prediction-keys:${modelTag(model)}:${hourBucket}`;
  }

  /** Hash of the labels given to one hour's (by id time) predictions: prediction id → {label, labeled_at} JSON. */
  labels(model: string, hourBucket: number): string {
    return `${this.prefix}:labels:${modelTag(model)}:${hourBucket}`;
  }

  /** List of a version's labelled outcomes, newest first, capped: the sliding window quality is measured over. */
  qualityOutcomes(model: string, version: string): string {
    return `${this.prefix}:quality:${modelTag(model)}:${version}`;
  }

  /** List of a version's first predictions' feature rows (JSON arrays): its drift reference. */
  driftReference(model: string, version: string): string {
    return `${this.prefix}:drift-reference:${modelTag(model)}:${version}`;
  }

  /** List of a version's latest predictions' feature rows, newest first, capped: what drift is judged on. */
  driftRecent(model: string, version: string): string {
    return `${this.prefix}:drift-recent:${modelTag(model)}:${version}`;
  }

  /** Versions being unloaded (set of version names): no new traffic, workers drain then drop them. */
  unloading(model: string): string {
    return `${this.prefix}:unloading:${modelTag(model)}`;
  }

  /** Published (JSON {model, version, state}) when a worker hot-loads, refuses or unloads a version. */
  modelsChangedChannel(): string {
    return `${this.prefix}:models-changed`;
  }

  /** Published (a model name, or empty for all) to make workers rescan the model repository now. */
  modelsRescanChannel(): string {
    return `${this.prefix}:models-rescan`;
  }
}

/**
 * Every Redis key and channel inferq uses, in one place. BullMQ owns `<prefix>:<queue>:*`;
 * inferq's own keys sit beside them under the same prefix so one prefix isolates a deployment.
 */
export class Keyspace {
  constructor(readonly prefix: string) {}

  /** One BullMQ queue per model, so each model batches, scales and backs up on its own. */
  modelQueue(model: string): string {
    return `model-${model}`;
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
    return `${this.prefix}:result:${jobId}`;
  }

  idempotency(keyHash: string): string {
    return `${this.prefix}:idempotency:${keyHash}`;
  }

  /** Sorted set of worker ids by last heartbeat (epoch ms). */
  workers(): string {
    return `${this.prefix}:workers`;
  }

  /** A worker's report of the model versions it serves and their load state; expires unless renewed. */
  workerReport(workerId: string): string {
    return `${this.prefix}:worker:${workerId}`;
  }

  /** A batch scoring job's record (hash: status, counters, timings). */
  batch(batchId: string): string {
    return `${this.prefix}:batch:${batchId}`;
  }

  /** One chunk's result lines (NDJSON, in row order). */
  batchChunk(batchId: string, chunk: number): string {
    return `${this.prefix}:batch:${batchId}:chunk:${chunk}`;
  }

  /** A tenant's rate-limit state (GCRA theoretical arrival time, epoch ms). */
  rateLimit(tenant: string): string {
    return `${this.prefix}:rate:${tenant}`;
  }

  /** How many requests a model's queue holds (bundles count each request), for the depth limit. */
  queuedRequests(model: string): string {
    return `${this.prefix}:queued:${model}`;
  }

  /** How many of a tenant's jobs a model's queue holds, for fair ordering between tenants. */
  tenantBacklog(model: string, tenant: string): string {
    return `${this.prefix}:backlog:${model}:${tenant}`;
  }

  /**
   * Published when jobs or batches end (see completion-message.ts): a finished job's line carries
   * its record, so a held long-poll answers from the message without reading Redis again.
   */
  jobsFinishedChannel(): string {
    return `${this.prefix}:jobs-finished`;
  }

  /**
   * Published when something moves short of its end (see progress-message.ts): a bundle a worker
   * took (every request in it is running) or a batch that recorded a chunk or closed its ingest.
   * Only API processes holding event streams subscribe.
   */
  progressChannel(): string {
    return `${this.prefix}:progress`;
  }

  /** The BullMQ queue of webhook deliveries: one queue for every model, apart from inference. */
  webhookQueue(): string {
    return 'webhooks';
  }

  /** A job's webhook subscription (url, events), kept with its result for redelivery. */
  webhookSubscription(jobId: string): string {
    return `${this.prefix}:webhook:${jobId}`;
  }

  /** Hash of a job's deliveries (delivery id → summary), expiring with the job's result. */
  webhookDeliveries(jobId: string): string {
    return `${this.prefix}:webhook-deliveries:${jobId}`;
  }

  /** List of one delivery's attempts, oldest first, expiring with the job's result. */
  webhookAttempts(deliveryId: string): string {
    return `${this.prefix}:webhook-attempts:${deliveryId}`;
  }

  /** A tenant's generated signing secret (only when none is configured); written once, SET NX. */
  webhookSecret(tenant: string): string {
    return `${this.prefix}:webhook-secret:${tenant}`;
  }

  /** A model's routing policy (hash: `revision`, `policy` JSON); absent: the default policy. */
  routing(model: string): string {
    return `${this.prefix}:routing:${model}`;
  }

  /** Published with a model name whenever its routing policy changes; API processes drop their cached copy. */
  routingChannel(): string {
    return `${this.prefix}:routing-changed`;
  }

  /** List of a model's routing events (rollbacks, policy changes), newest first, capped. */
  routingEvents(model: string): string {
    return `${this.prefix}:routing-events:${model}`;
  }

  /** Held (SET NX PX) by the API process that checks a model's guardrails this round. */
  guardrailLock(model: string): string {
    return `${this.prefix}:guardrail-lock:${model}`;
  }

  /** Sorted set of one version's recent outcomes (score: epoch ms), shared by every worker. */
  versionHealth(model: string, version: string): string {
    return `${this.prefix}:health:${model}:${version}`;
  }

  /** The two halves (primary, shadow) of one shadowed job, until both are in and compared. */
  shadowPair(jobId: string): string {
    return `${this.prefix}:shadow-pair:${jobId}`;
  }

  /** List of a model's recent primary/shadow comparisons, newest first, capped. */
  shadowLog(model: string): string {
    return `${this.prefix}:shadow-log:${model}`;
  }

  /** A model's prediction log (stream; one field `r`, a PredictionRecord as JSON), bounded by length and age. */
  predictions(model: string): string {
    return `${this.prefix}:predictions:${model}`;
  }

  /** Hash of one hour's (by id time) logged predictions: prediction id → "<stream id> <tenant>", for labels. */
  predictionIndex(model: string, hourBucket: number): string {
    return `${this.prefix}:prediction-index:${model}:${hourBucket}`;
  }

  /** Sorted set (lex) of one hour's predictions by routing key: "<routing key>\0<stream id>\0<prediction id>". */
  predictionKeys(model: string, hourBucket: number): string {
    return `${this.prefix}:prediction-keys:${model}:${hourBucket}`;
  }

  /** Hash of the labels given to one hour's (by id time) predictions: prediction id → {label, labeled_at} JSON. */
  labels(model: string, hourBucket: number): string {
    return `${this.prefix}:labels:${model}:${hourBucket}`;
  }

  /** List of a version's labelled outcomes, newest first, capped: the sliding window quality is measured over. */
  qualityOutcomes(model: string, version: string): string {
    return `${this.prefix}:quality:${model}:${version}`;
  }

  /** List of a version's first predictions' feature rows (JSON arrays): its drift reference. */
  driftReference(model: string, version: string): string {
    return `${this.prefix}:drift-reference:${model}:${version}`;
  }

  /** List of a version's latest predictions' feature rows, newest first, capped: what drift is judged on. */
  driftRecent(model: string, version: string): string {
    return `${this.prefix}:drift-recent:${model}:${version}`;
  }

  /** Versions being unloaded (set of version names): no new traffic, workers drain then drop them. */
  unloading(model: string): string {
    return `${this.prefix}:unloading:${model}`;
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

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

  /** Published with space-separated job ids after their results are written; long-polls wake on it. */
  jobsFinishedChannel(): string {
    return `${this.prefix}:jobs-finished`;
  }
}

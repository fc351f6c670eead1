import type { Keyspace } from '@inferq/core/keyspace';
import type { Logger } from '@inferq/core/logger';
import type { Redis } from '@inferq/core/redis-connection';
import { WORKER_HEARTBEAT_MS, WORKER_REPORT_TTL_MS, type VersionReport, type WorkerReport } from '@inferq/core/worker-report';

/** Publishes this worker's model load states to Redis every few seconds, where any API process reads them. */
export class WorkerHeartbeat {
  private readonly versions = new Map<string, VersionReport>();
  private timer: NodeJS.Timeout | undefined;
  private readonly startedAt = new Date().toISOString();

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keyspace,
    readonly workerId: string,
    private readonly host: string,
    private readonly logger: Logger,
  ) {}

  private finished = new Map<string, number>();
  private lastBeat = Date.now();

  /** Counts finished jobs, so the API can tell how fast this worker drains each version's queue. */
  countFinished(model: string, version: string, n = 1): void {
    const key = `${model}\u0000${version}`;
    this.finished.set(key, (this.finished.get(key) ?? 0) + n);
  }

  /** Records a version's state and publishes the report at once; resolves once it is in Redis. */
  set(report: VersionReport): Promise<void> {
    this.versions.set(`${report.model}\u0000${report.version}`, report);
    return this.beat();
  }

  /** Forgets a version (unloaded) and publishes the report without it. */
  remove(model: string, version: string): Promise<void> {
    this.versions.delete(`${model}\u0000${version}`);
    return this.beat();
  }

  all(): VersionReport[] {
    return [...this.versions.values()];
  }

  start(): void {
    this.timer = setInterval(() => void this.beat(), WORKER_HEARTBEAT_MS);
    this.timer.unref();
  }

  private async beat(): Promise<void> {
    const now = Date.now();
    const seconds = Math.max(0.001, (now - this.lastBeat) / 1000);
    for (const [key, report] of this.versions) report.jobs_per_second = Math.round(((this.finished.get(key) ?? 0) / seconds) * 10) / 10;
    this.finished = new Map();
    this.lastBeat = now;
    const report: WorkerReport = {
      worker_id: this.workerId,
      host: this.host,
      pid: process.pid,
      started_at: this.startedAt,
      heartbeat_at: new Date(now).toISOString(),
      versions: this.all(),
    };
    try {
      await this.redis
        .multi()
        .set(this.keys.workerReport(this.workerId), JSON.stringify(report), 'PX', WORKER_REPORT_TTL_MS)
        .zadd(this.keys.workers(), now, this.workerId)
        .zremrangebyscore(this.keys.workers(), 0, now - WORKER_REPORT_TTL_MS)
        .exec();
    } catch (error) {
      this.logger.warn({ err: error }, 'worker heartbeat failed');
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.redis.multi().del(this.keys.workerReport(this.workerId)).zrem(this.keys.workers(), this.workerId).exec().catch(() => undefined);
  }
}

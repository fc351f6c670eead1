import type { Keyspace } from '@inferq/core/keyspace';
import type { Redis } from '@inferq/core/redis-connection';
import { WORKER_REPORT_TTL_MS, type WorkerReport } from '@inferq/core/worker-report';

/** Where a version this worker cannot run now may still be run. */
export type VersionOutlook = 'loading-here' | 'ready-elsewhere' | 'nowhere';

export interface VersionAvailabilityOptions {
  redis: Redis;
  keys: Keyspace;
  workerId: string;
  /** How long one reading of the other workers' reports is reused. Default: 1000 ms. */
  readingMs?: number;
}

/**
 * Tells a model worker, given a job for a version it has no runner for, whether the job should
 * wait: the version is still loading in this process (at start-up or hot-loaded), or another live
 * worker has it ready. Only when neither holds may the job fail MODEL_VERSION_UNAVAILABLE.
 */
export class VersionAvailability {
  /** `model\u0000version` of the versions this process is about to load or is loading. */
  private readonly pending = new Set<string>();
  private reading: { at: number; ready: Set<string> } | undefined;

  constructor(private readonly options: VersionAvailabilityOptions) {}

  loading(model: string, version: string): void {
    this.pending.add(`${model}\u0000${version}`);
  }

  settled(model: string, version: string): void {
    this.pending.delete(`${model}\u0000${version}`);
  }

  async outlook(model: string, version: string): Promise<VersionOutlook> {
    if (this.pending.has(`${model}\u0000${version}`)) return 'loading-here';
    const ready = await this.readyElsewhere().catch(() => new Set<string>());
    return ready.has(`${model}\u0000${version}`) ? 'ready-elsewhere' : 'nowhere';
  }

  /** The versions other live workers report ready (one reading per readingMs). */
  private async readyElsewhere(): Promise<Set<string>> {
    if (this.reading && Date.now() - this.reading.at < (this.options.readingMs ?? 1000)) return this.reading.ready;
    const { redis, keys } = this.options;
    const ids = (await redis.zrangebyscore(keys.workers(), Date.now() - WORKER_REPORT_TTL_MS, '+inf')).filter((id) => id !== this.options.workerId);
    const ready = new Set<string>();
    const raw = ids.length > 0 ? await redis.mget(ids.map((id) => keys.workerReport(id))) : [];
    for (const text of raw) {
      if (!text) continue;
      const report = JSON.parse(text) as WorkerReport;
      for (const v of report.versions) if (v.state === 'ready') ready.add(`${v.model}\u0000${v.version}`);
    }
    this.reading = { at: Date.now(), ready };
    return ready;
  }
}

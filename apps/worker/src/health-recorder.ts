import { appendSamples, type HealthSample } from '@inferq/core/health-window';
import type { Keyspace } from '@inferq/core/keyspace';
import type { Logger } from '@inferq/core/logger';
import type { Redis } from '@inferq/core/redis-connection';

/**
 * Adds each finished job's outcome to its version's sliding health window in Redis (shared by
 * every worker; the API's guardrails read it). Samples recorded in one tick, a batch's jobs,
 * go out in one pipeline per version. A lost sample is not worth failing a job for: errors are logged.
 */
export class HealthRecorder {
  private pending = new Map<string, HealthSample[]>();
  private scheduled = false;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keyspace,
    private readonly windowMs: number,
    private readonly logger: Logger,
  ) {}

  record(model: string, version: string, sample: Omit<HealthSample, 'at'>): void {
    const key = this.keys.versionHealth(model, version);
    const list = this.pending.get(key) ?? [];
    list.push({ at: Date.now(), ...sample });
    this.pending.set(key, list);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => void this.flush());
    }
  }

  private async flush(): Promise<void> {
    const pending = this.pending;
    this.pending = new Map();
    this.scheduled = false;
    try {
      // One pipeline per version's window: on a cluster, different models' keys live on different masters.
      await Promise.all(
        [...pending].map(([key, samples]) => {
          const pipeline = this.redis.pipeline();
          appendSamples(pipeline, key, samples, this.windowMs);
          return pipeline.exec();
        }),
      );
    } catch (error) {
      this.logger.warn({ err: (error as Error).message }, 'health samples not recorded');
    }
  }
}

import type { Logger } from '@inferq/core/logger';
import { masterServers, type Redis } from '@inferq/core/redis-connection';

export interface StorageMonitorOptions {
  redis: Redis;
  logger: Logger;
  /** Called once per write Redis refused for lack of memory (the metric). */
  onRefused?: () => void;
  /** How long one `INFO memory` reading serves /readyz. Default: 1000 ms. */
  readingMs?: number;
  /** How long after the last refused write Redis still counts as full. Default: 2000 ms. */
  refusalMemoryMs?: number;
}

/** `used_memory` at or past `maxmemory` (0: no limit) in an `INFO memory` reply. */
function memoryFull(info: string): boolean {
  const field = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? 0);
  const max = field('maxmemory');
  return max > 0 && field('used_memory') >= max;
}

/**
 * Whether Redis (any master of a cluster: a full one refuses its models' writes) is out of
 * memory (maxmemory reached under noeviction), for /readyz: full when a
 * write was refused in the last two seconds, or when `INFO memory` (read at most once a second)
 * says so. Says what to do in one log line when it becomes full, and one when it recovers.
 */
export class StorageMonitor {
  private lastRefusalAt = 0;
  private reading: { at: number; full: boolean } | undefined;
  private inflight: Promise<boolean> | undefined;
  private reported = false;

  constructor(private readonly options: StorageMonitorOptions) {}

  /** A write was refused with OOM. */
  refused(): void {
    this.lastRefusalAt = Date.now();
    this.options.onRefused?.();
    this.report(true);
  }

  async full(): Promise<boolean> {
    if (Date.now() - this.lastRefusalAt < (this.options.refusalMemoryMs ?? 2000)) return true;
    if (this.reading && Date.now() - this.reading.at < (this.options.readingMs ?? 1000)) return this.reading.full;
    this.inflight ??= Promise.all(masterServers(this.options.redis).map((server) => server.info('memory')))
      .then((infos) => infos.some(memoryFull), () => false)
      .then((full) => {
        this.reading = { at: Date.now(), full };
        this.inflight = undefined;
        this.report(full);
        return full;
      });
    return this.inflight;
  }

  private report(full: boolean): void {
    if (full === this.reported) return;
    this.reported = full;
    if (full) {
      this.options.logger.error(
        'redis is out of memory (maxmemory reached under noeviction): submits answer 503 STORAGE_FULL until memory frees. ' +
          'Raise maxmemory (CONFIG SET maxmemory), or free memory: fetch or let expire finished results (lower ttl_seconds / INFERQ_RESULT_TTL_SECONDS), drain the queues.',
      );
    } else {
      this.options.logger.info('redis has memory again: submits are accepted');
    }
  }
}

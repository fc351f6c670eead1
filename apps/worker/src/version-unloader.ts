import type { Queue } from 'bullmq';
import type { QueuePayload } from '@inferq/core/job-types';
import type { Logger } from '@inferq/core/logger';
import type { VersionRunner } from './version-runner.ts';

export interface VersionUnloaderOptions {
  /** The model's queue, to see whether any of the version's jobs are left. */
  queue: (model: string) => Queue<QueuePayload>;
  /** The model's runner map, shared with its ModelWorker. */
  runners: (model: string) => Map<string, VersionRunner> | undefined;
  /** Called once the version is gone from this worker (report, announce). */
  dropped: (model: string, version: string) => Promise<void>;
  logger: Logger;
  /** How often the queue is looked at while draining. Default: 500 ms. */
  pollMs?: number;
}

const PENDING_STATES = ['waiting', 'prioritized', 'delayed', 'active', 'waiting-children'] as const;

/**
 * Unloads a version from this worker, draining first: the runner keeps serving until the model's
 * queue holds none of the version's jobs (jobs already routed there, or pinned to it, still run)
 * and its batcher has nothing waiting; only then are its threads released.
 */
export class VersionUnloader {
  private readonly draining = new Set<string>();

  constructor(private readonly options: VersionUnloaderOptions) {}

  async unload(model: string, version: string): Promise<void> {
    const key = `${model}/${version}`;
    const runner = this.options.runners(model)?.get(version);
    if (!runner || this.draining.has(key)) return;
    this.draining.add(key);
    const log = this.options.logger.child({ model, version });
    log.info('model version draining before unload');
    try {
      const queue = this.options.queue(model);
      for (;;) {
        const jobs = await queue.getJobs([...PENDING_STATES]);
        if (!jobs.some((j) => j?.name === version) && runner.batcher.pendingItems === 0 && runner.pool.idleThreads === runner.pool.size) break;
        await new Promise((r) => setTimeout(r, this.options.pollMs ?? 500));
      }
      this.options.runners(model)?.delete(version);
      await runner.close();
      await this.options.dropped(model, version);
      log.info('model version unloaded');
    } catch (error) {
      log.error({ err: (error as Error).message }, 'model version not unloaded; it keeps serving');
    } finally {
      this.draining.delete(key);
    }
  }
}

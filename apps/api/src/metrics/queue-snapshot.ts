import type { Queue } from 'bullmq';
import { QUEUE_STATES, type QueueSnapshot, type QueueState } from '@inferq/metrics/metrics';
import type { JobStore } from '@inferq/jobs/job-store';
import type { ModelCatalog } from '../services/model-catalog.ts';

export interface QueueSnapshotOptions {
  /** Every model's queue, by model name. */
  queues: ReadonlyMap<string, Queue<any>>;
  catalog: ModelCatalog;
  /** Reads each model's queued requests. */
  store: JobStore;
  /** How long one reading is reused: scrapes by several Prometheus servers cost Redis one read. */
  cacheMs: number;
}

/**
 * Queue depths (BullMQ's counts and the queued-request counter: two round trips per model) and live worker counts (the workers'
 * heartbeat reports), read on scrape rather than on a timer, so an idle API costs Redis nothing.
 */
export function queueSnapshotReader({ queues, catalog, store, cacheMs }: QueueSnapshotOptions): () => Promise<QueueSnapshot> {
  let cached: { at: number; value: Promise<QueueSnapshot> } | undefined;
  const read = async (): Promise<QueueSnapshot> => {
    const [reports, counts] = await Promise.all([
      catalog.workerReports(),
      Promise.all([...queues].map(async ([model, queue]) => [model, await queue.getJobCounts(...QUEUE_STATES), await store.queuedRequests(model)] as const)),
    ]);
    return {
      models: counts.map(([model, raw, queuedRequests]) => {
        const versions = new Map<string, Set<string>>();
        const serving = new Set<string>();
        for (const [key, list] of reports) {
          const [name, version] = key.split('/') as [string, string];
          if (name !== model) continue;
          const ready = list.filter((r) => r.state === 'ready').map((r) => r.worker_id);
          versions.set(version, new Set(ready));
          for (const id of ready) serving.add(id);
        }
        // Versions in the repository that no worker reports still get a series (at 0).
        for (const v of catalog.get(model).versions) if (!versions.has(v.version)) versions.set(v.version, new Set());
        const countsByState = Object.fromEntries(QUEUE_STATES.map((s) => [s, raw[s] ?? 0])) as Record<QueueState, number>;
        return { model, counts: countsByState, queuedRequests, workers: serving.size, versions: [...versions].map(([version, ids]) => ({ version, workers: ids.size })) };
      }),
    };
  };
  return () => {
    const now = Date.now();
    if (!cached || now - cached.at >= cacheMs) {
      const value = read();
      cached = { at: now, value };
      // A failed read is not reused: the next scrape tries again.
      value.catch(() => {
        if (cached?.value === value) cached = undefined;
      });
    }
    return cached.value;
  };
}

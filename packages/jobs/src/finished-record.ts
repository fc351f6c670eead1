import type { ErrorBody } from '@inferq/core/errors';
import type { FinishedJobRecord, FinishedStatus, JobTimings, RoutedBy } from '@inferq/core/job-types';
import type { FinishedWrite } from './job-store.ts';

/** How a request ended, in the units its producers have at hand (epoch ms). */
export interface Ending {
  jobId: string;
  status: FinishedStatus;
  model: string;
  version: string;
  /** Epoch ms the request was created (its bundle's creation). */
  createdAt: number;
  /** Epoch ms a worker started it; null when it never ran. */
  startedAt: number | null;
  timings?: JobTimings;
  batchSize?: number;
  routedBy?: RoutedBy;
  fallbackFrom?: { version: string; reason: string };
  result?: unknown;
  error?: ErrorBody;
  metadata?: Record<string, unknown>;
  tenant?: string;
}

/**
 * A request's finished record and how long it is kept. The one place a result's lifetime is
 * decided: kept `ttlMs` from the moment it finished (`expires_at`), which the store gives Redis
 * as the key's PX, so a GET after it is a definite 404, to the millisecond.
 */
export function finishedRecord(ending: Ending, ttlMs: number, now = Date.now()): FinishedWrite {
  const iso = (ms: number) => new Date(ms).toISOString();
  const record: FinishedJobRecord = {
    job_id: ending.jobId,
    status: ending.status,
    model: ending.model,
    model_version: ending.version,
    created_at: iso(ending.createdAt),
    started_at: ending.startedAt === null ? null : iso(ending.startedAt),
    finished_at: iso(now),
    timings: ending.timings ?? null,
    batch_size: ending.batchSize ?? null,
    ...(ending.fallbackFrom ? { routed_by: 'fallback' as const, fallback_from: ending.fallbackFrom } : ending.routedBy ? { routed_by: ending.routedBy } : {}),
    ...(ending.result !== undefined ? { result: ending.result } : {}),
    ...(ending.error ? { error: ending.error } : {}),
    ...(ending.metadata ? { metadata: ending.metadata } : {}),
    ...(ending.tenant ? { tenant: ending.tenant } : {}),
    expires_at: iso(now + ttlMs),
  };
  return { record, ttlMs };
}

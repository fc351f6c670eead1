/** The load state of one model version in one worker process. */
export type LoadState = 'loading' | 'ready' | 'failed';

export interface VersionReport {
  model: string;
  version: string;
  state: LoadState;
  /** Execution provider the sessions run on (cpu, cuda, ...), once ready. */
  provider?: string;
  threads?: number;
  reason?: string;
  /** Jobs of this version finished per second over the last heartbeat interval. */
  jobs_per_second?: number;
}

/** What each worker publishes about itself; the API aggregates these for /v1/models. */
export interface WorkerReport {
  worker_id: string;
  host: string;
  pid: number;
  started_at: string;
  heartbeat_at: string;
  versions: VersionReport[];
}

/** A worker that has not renewed its report for this long is presumed gone. */
export const WORKER_REPORT_TTL_MS = 30_000;
export const WORKER_HEARTBEAT_MS = 10_000;

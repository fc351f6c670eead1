/** The API's JSON shapes, as the README's HTTP API table describes them (snake_case on the wire). */

export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'canceled';
export type FinishedJobStatus = Extract<JobStatus, 'succeeded' | 'failed' | 'canceled'>;
export type BatchStatus = 'receiving' | 'queued' | 'running' | 'succeeded' | 'failed' | 'canceled';

export interface ApiErrorBody {
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

/** A KServe V2 tensor: `data` flat (row-major) or nested. */
export interface Tensor {
  name: string;
  datatype: string;
  shape: number[];
  data: unknown[];
}

export type WebhookEventType = 'job.succeeded' | 'job.failed' | 'job.canceled' | 'batch.progress' | 'batch.completed';

export interface WebhookTarget {
  url: string;
  events?: WebhookEventType[];
}

/** `POST /v1/jobs`: exactly one of `inputs`, `features` or `image`. */
export interface JobRequest {
  model: string;
  version?: string;
  routing_key?: string;
  inputs?: Tensor[];
  features?: Record<string, unknown> | Record<string, unknown>[];
  /** An image for image models: base64 bytes, or a `data:` URL. */
  image?: { data: string };
  include_outputs?: boolean;
  ttl_seconds?: number;
  /** 1 (most urgent) to 9; default 5. */
  priority?: number;
  deadline_seconds?: number;
  metadata?: Record<string, unknown>;
  webhook?: WebhookTarget;
}

/** The answer to a submit: the job is queued; poll `poll_url`. */
export interface SubmittedJob {
  job_id: string;
  status: 'queued';
  model: string;
  model_version: string;
  routed_by: string;
  created_at: string;
  poll_url: string;
}

export interface JobTimings {
  queue_ms: number;
  inference_ms: number;
  total_ms: number;
}

interface JobViewBase {
  job_id: string;
  model: string;
  model_version: string;
  routed_by?: string;
  fallback_from?: string;
  created_at: string;
  started_at: string | null;
  metadata?: Record<string, unknown>;
}

export interface PendingJob extends JobViewBase {
  status: 'queued' | 'running';
  finished_at: null;
  timings: null;
  batch_size: null;
}

export interface FinishedJob extends JobViewBase {
  status: FinishedJobStatus;
  finished_at: string;
  timings: JobTimings | null;
  batch_size: number | null;
  /** Present when `status` is `succeeded`. */
  result?: unknown;
  /** Present when `status` is `failed` or `canceled`. */
  error?: ApiErrorBody;
  expires_at: string;
}

/** What `GET /v1/jobs/{id}` returns. */
export type JobView = PendingJob | FinishedJob;

/** One entry of a bulk answer, in the order of the jobs sent: accepted, or refused alone. */
export type BulkItem = SubmittedJob | { error: ApiErrorBody };

/** What `GET /v1/batches/{id}` returns. */
export interface BatchView {
  batch_id: string;
  status: BatchStatus;
  model: string;
  model_version: string;
  total: number;
  succeeded: number;
  failed: number;
  canceled: number;
  pending: number;
  percent: number;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  timings: { ingest_ms: number | null; total_ms: number | null };
  results_url: string;
  expires_at: string | null;
  poll_url?: string;
  error?: ApiErrorBody;
}

/** One line of `GET /v1/batches/{id}/results`, in input order. */
export type BatchResultLine = { row: number; id?: string | number; result: unknown } | { row: number; id?: string | number; error: ApiErrorBody };

const FINISHED = new Set<string>(['succeeded', 'failed', 'canceled']);

/** True once a job or batch has reached `succeeded`, `failed` or `canceled`. */
export function isFinishedStatus(status: string): status is FinishedJobStatus {
  return FINISHED.has(status);
}

import type { ErrorBody } from './errors.ts';
import type { WireTensor } from './tensor.ts';

export const JOB_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'canceled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export type FinishedStatus = Extract<JobStatus, 'succeeded' | 'failed' | 'canceled'>;

/**
 * How the client asked, and so how the result is shaped: V2 `outputs` for tensor requests, one
 * prediction object for `features: {...}`, a list of them for `features: [{...}, ...]`.
 */
export type ResponseForm = 'outputs' | 'prediction' | 'predictions';

/** What the API puts in a BullMQ job. The BullMQ job name is the model version. */
export interface JobPayload {
  /** Tensors, already validated against the manifest; empty for image jobs. */
  inputs: WireTensor[];
  /** Base64 image bytes for models with image preprocessing (header already checked). */
  image?: string;
  /** Return the raw V2 outputs beside the post-processed result. */
  include_outputs?: boolean;
  response: ResponseForm;
  ttl_ms: number;
  /** Epoch ms at submit. */
  created_at: number;
  metadata?: Record<string, unknown>;
  request_id?: string;
}

export interface JobTimings {
  queue_ms: number;
  inference_ms: number;
  total_ms: number;
}

/** A finished job as stored under its result key for exactly its TTL, and served by GET. */
export interface FinishedJobRecord {
  job_id: string;
  status: FinishedStatus;
  model: string;
  model_version: string;
  created_at: string;
  started_at: string | null;
  finished_at: string;
  timings: JobTimings | null;
  batch_size: number | null;
  result?: unknown;
  error?: ErrorBody;
  metadata?: Record<string, unknown>;
  expires_at: string;
}

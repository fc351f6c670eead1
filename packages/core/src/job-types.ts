import type { ErrorBody } from './errors.ts';
import type { QueuedTensor } from './tensor.ts';

export const JOB_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'canceled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export type FinishedStatus = Extract<JobStatus, 'succeeded' | 'failed' | 'canceled'>;

/**
 * How the client asked, and so how the result is shaped: V2 `outputs` for tensor requests, one
 * prediction object for `features: {...}`, a list of them for `features: [{...}, ...]`.
 */
export type ResponseForm = 'outputs' | 'prediction' | 'predictions';

/**
 * One request as queued (in a bundle, or alone as queued before bundles). The queue job's name
 * is the model version.
 */
export interface JobPayload {
  kind?: undefined;
  /** Tensors, already validated against the manifest; empty for image jobs. */
  inputs: QueuedTensor[];
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
  /** Who submitted it; only that tenant can see or cancel it. */
  tenant?: string;
  /** Epoch ms after which the job must not start (it fails with DEADLINE_EXCEEDED instead). */
  deadline_at?: number;
  /** The tenant backlog counter this job was counted in (fair ordering), decremented when it ends. */
  backlog_key?: string;
  /** Where to announce the job's end; the worker (or the cancel path) enqueues the delivery. */
  webhook?: WebhookSubscription;
  /** Why the job runs on its version (the BullMQ job name). Absent on jobs from before routing. */
  routed_by?: RoutedBy;
  /** Version to re-run the job on if its own fails for an infrastructure reason (not for pinned jobs). */
  fallback_version?: string;
  /** A shadow copy of this job runs on this version; the worker logs both answers side by side. */
  shadow_version?: string;
  /** The client's routing key (sticky routing), kept for the prediction log and label joins. */
  routing_key?: string;
}

/**
 * Why a job runs on the version it does: `pinned` (the request named it), `weight` (the policy's
 * weights), `sticky` (its `routing_key` hashed onto the weights), `fallback` (its routed version
 * failed for an infrastructure reason and the policy's fallback answered instead).
 */
export const ROUTED_BY = ['pinned', 'weight', 'sticky', 'fallback'] as const;
export type RoutedBy = (typeof ROUTED_BY)[number];

/**
 * A shadow copy of a job, run on the shadow version (the BullMQ job name) behind every real job.
 * Its answer is never stored as a result: it is logged beside the primary's for comparison.
 */
export interface ShadowPayload {
  kind: 'shadow';
  primary_job_id: string;
  /** The version the primary job was routed to. */
  primary_version: string;
  inputs: QueuedTensor[];
  image?: string;
  response: ResponseForm;
  created_at: number;
  /** The primary's tenant, request id and routing key, for the prediction log. */
  tenant?: string;
  request_id?: string;
  routing_key?: string;
}

/** A job's `webhook`: the receiver's URL (checked at submit) and the event types it wants. */
export interface WebhookSubscription {
  url: string;
  /** Event types to deliver; absent: every `job.*` event. */
  events?: string[];
}

/**
 * A chunk of a batch scoring job: consecutive input rows scored as one queue job, so a file of
 * a million rows costs about a thousand queue operations, not a million.
 */
export interface ChunkPayload {
  kind: 'chunk';
  batch_id: string;
  chunk: number;
  /** Row number (0-based, in the input) of the chunk's first row. */
  first_row: number;
  /** Rows in the chunk, valid or not. */
  count: number;
  /** The valid rows' tensors, concatenated along the first dimension, in row order. */
  inputs: QueuedTensor[];
  /** Per row, the client's `id` if it gave one (null otherwise); absent when no row has one. */
  ids?: (string | number | null)[];
  /** Rows that failed validation, by offset in the chunk: they are reported, never scored. */
  errors?: Record<number, ErrorBody>;
  ttl_ms: number;
  /** The batch's tenant, for the prediction log. */
  tenant?: string;
}

/** A request inside a bundle: the request's own payload and its id (`requestId(bundle, index)`). */
export interface BundledRequest extends Omit<JobPayload, 'kind' | 'backlog_key'> {
  id: string;
}

/**
 * A queue job that carries many requests of one model version, priority and tenant: each
 * request keeps its own id, status, result and webhook, while the queue's per-job cost (an add,
 * a fetch, a completion) is paid once for all of them.
 */
export interface BundlePayload {
  kind: 'bundle';
  requests: BundledRequest[];
  /**
   * The counters the bundle's requests were counted in at submit (the model's queued requests,
   * and its tenant's backlog with fair ordering), decremented by `requests.length` when a worker
   * first takes the bundle.
   */
  counted_in?: string[];
}

/** The shadow copies of a bundle's requests, queued right behind it for the shadow version. */
export interface ShadowBundlePayload {
  kind: 'shadows';
  copies: Omit<ShadowPayload, 'kind'>[];
}

export type QueuePayload = JobPayload | ChunkPayload | ShadowPayload | BundlePayload | ShadowBundlePayload;

export interface JobTimings {
  queue_ms: number;
  inference_ms: number;
  total_ms: number;
  /** A pipeline's stages, in order: each one's requests, from queueing the first to the last one's record. */
  stages?: StageTiming[];
}

/** One stage of a pipeline job: the model (and version) its requests ran on, how many, and how long the stage took. */
export interface StageTiming {
  stage: string;
  model: string;
  version: string;
  ms: number;
  requests: number;
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
  /** Why `model_version` answered (see RoutedBy); absent on canceled jobs. */
  routed_by?: RoutedBy;
  /** Set when the routed version failed and the fallback answered: the version that failed, and why. */
  fallback_from?: { version: string; reason: string };
  result?: unknown;
  error?: ErrorBody;
  metadata?: Record<string, unknown>;
  tenant?: string;
  expires_at: string;
}

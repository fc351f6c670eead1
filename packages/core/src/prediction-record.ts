import { createHash } from 'node:crypto';
import type { FinishedStatus, RoutedBy } from './job-types.ts';

/**
 * One logged prediction, as stored (JSON, one stream entry field) in a model's prediction log and
 * exported by GET /v1/predictions. docs/predictions.md describes every field.
 */
export interface PredictionRecord {
  /** The prediction's own id: the job id; `<batch_id>:<row>` for a batch row; `<job_id>~shadow` for a shadow run. */
  id: string;
  /** The job that asked (the primary job for a shadow run); absent for batch rows. */
  job_id?: string;
  request_id?: string;
  tenant: string;
  routing_key?: string;
  batch_id?: string;
  row?: number;
  /** A shadow run: its answer was never returned to the client. */
  shadow?: true;
  model: string;
  version: string;
  routed_by?: RoutedBy;
  status: FinishedStatus;
  error_code?: string;
  /** Epoch ms the request was submitted. */
  created_at: number;
  queue_ms: number | null;
  inference_ms: number | null;
  total_ms: number | null;
  batch_size: number | null;
  prediction?: unknown;
  /** Tabular features as `{name: value}` (a list of them for several rows), or the raw input when the model opts in. */
  inputs?: unknown;
  /** Tensors and images (unless the model opts in to storing them): what was scored, without the bytes. */
  input_digest?: { sha256: string; bytes: number };
}

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const HOUR_MS = 3_600_000;

/**
 * When a prediction's id was minted (job ids and batch ids start with a ULID's time), to the
 * millisecond; undefined for an id inferq did not make. Labels find a prediction's index bucket
 * from its id alone, so no lookup key per prediction is needed.
 */
export function predictionIdTime(id: string): number | undefined {
  // Batch rows (`batch-<model>-<ULID>:<row>`): the ULID ends where the row begins.
  const colon = id.indexOf(':');
  const dot = id.indexOf('.');
  const start = id.startsWith('batch-') ? (colon < 0 ? id.length : colon) - 26 : dot >= 0 ? dot + 1 : -1;
  const ulid = start < 0 ? '' : id.slice(start, start + 10);
  if (ulid.length !== 10) return undefined;
  let t = 0;
  for (const c of ulid) {
    const digit = CROCKFORD.indexOf(c);
    if (digit < 0) return undefined;
    t = t * 32 + digit;
  }
  return t;
}

/** The hour bucket of the index and label keys a prediction (by its id's time) lives in. */
export function predictionBucket(ms: number): number {
  return Math.floor(ms / HOUR_MS);
}

/** When a bucket's keys expire: the bucket's last moment plus the log's retention. */
export function bucketExpiresAt(bucket: number, retentionMs: number): number {
  return (bucket + 1) * HOUR_MS + retentionMs;
}

/**
 * Whether a prediction is logged at `rate` (0..1): decided by its id's hash, not by chance, so a
 * retried request, and the shadow run of a logged job, are decided the same way.
 */
export function sampledIn(id: string, rate: number): boolean {
  if (rate >= 1) return true;
  if (rate <= 0) return false;
  const digest = createHash('sha1').update(id).digest();
  return digest.readUInt32BE(0) / 0x1_0000_0000 < rate;
}

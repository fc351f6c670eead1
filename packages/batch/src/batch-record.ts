/** Batch statuses: rows arriving, waiting, being scored, and the final three. */
export const BATCH_STATUSES = ['receiving', 'queued', 'running', 'succeeded', 'failed', 'canceled'] as const;
export type BatchStatus = (typeof BATCH_STATUSES)[number];

/** A batch as `GET /v1/batches/{id}` returns it. */
export interface BatchView {
  batch_id: string;
  status: BatchStatus;
  model: string;
  model_version: string;
  /** Rows received (final once status is past `receiving`). */
  total: number;
  succeeded: number;
  failed: number;
  canceled: number;
  /** Rows with neither a result nor an error yet. */
  pending: number;
  percent: number;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  timings: { ingest_ms: number | null; total_ms: number | null };
  results_url: string;
  expires_at: string | null;
  error?: { code: string; message: string };
}

/** The Redis hash behind a batch, field by field (all strings in Redis). */
export interface BatchHash {
  model: string;
  version: string;
  status: BatchStatus;
  /** Who submitted it; only that tenant can see, read or cancel it. */
  tenant: string;
  ttl_ms: string;
  created_at: string;
  total?: string;
  chunks_total?: string;
  chunks_done?: string;
  succeeded?: string;
  failed?: string;
  canceled?: string;
  cancel_requested?: string;
  ingested_at?: string;
  started_at?: string;
  finished_at?: string;
  error?: string;
  /** JSON of the batch's webhook subscription. */
  webhook?: string;
  progress_step?: string;
}

import type { HttpTransport } from './http-transport.ts';
import { ndjsonLines } from './ndjson-lines.ts';

/** Which logged predictions to export (`GET /v1/predictions`). */
export interface PredictionExportQuery {
  model: string;
  version?: string;
  /** Inclusive; a Date, epoch ms, or an ISO 8601 string. */
  since?: Date | number | string;
  /** Inclusive; a Date, epoch ms, or an ISO 8601 string. */
  until?: Date | number | string;
  status?: 'succeeded' | 'failed' | 'canceled';
  /** Only predictions with (true) or without (false) a label. Default: both. */
  hasLabel?: boolean;
  /** Only shadow runs (true) or only answers clients got (false). Default: both. */
  shadow?: boolean;
  /** Admin keys only: one tenant's predictions. */
  tenant?: string;
  /** Go on after this cursor (from a previous export's `cursor`). */
  cursor?: string;
  /** Predictions per request, 1..10,000. Default: 1,000. */
  pageSize?: number;
}

/** One logged prediction as exported; docs/predictions.md lists every field. */
export interface LoggedPrediction {
  id: string;
  job_id?: string;
  request_id?: string;
  tenant: string;
  routing_key?: string;
  batch_id?: string;
  row?: number;
  shadow?: true;
  model: string;
  version: string;
  routed_by?: string;
  status: 'succeeded' | 'failed' | 'canceled';
  error_code?: string;
  created_at: number;
  queue_ms: number | null;
  inference_ms: number | null;
  total_ms: number | null;
  batch_size: number | null;
  prediction?: unknown;
  inputs?: unknown;
  input_digest?: { sha256: string; bytes: number };
  logged_at: string;
  cursor: string;
  label?: unknown;
  labeled_at?: string;
}

/** One page of an export as the API sent it, and where the next starts. */
export interface ExportPage {
  /** The page's body: NDJSON lines, or CSV with its header row. */
  text: string;
  /** Resume after this (also after the last page: a later export picks up new predictions from here). */
  cursor: string | undefined;
  more: boolean;
}

/** Which prediction a label is for: a job, a batch row, or a routing key near a time. */
export type LabelRow =
  | { job_id: string; label: unknown }
  | { model: string; batch_id: string; row: number; label: unknown }
  | { model: string; routing_key: string; at: string | number; label: unknown };

export interface LabelResults {
  stored: number;
  unchanged: number;
  rejected: number;
  /** Per row, in order: `status` (`stored`, `unchanged`) or `error` (`PREDICTION_NOT_FOUND`, `LABEL_CONFLICT`, ...). */
  results: ({ row: number; status: 'stored' | 'unchanged'; prediction_id: string } | { row: number; error: { code: string; message: string } })[];
}

async function* oneChunk(text: string): AsyncGenerator<Uint8Array> {
  yield new TextEncoder().encode(text);
}

const instant = (value: Date | number | string | undefined) => (value instanceof Date ? value.toISOString() : value);

/** The prediction log: `client.predictions.export(...)`, `pages(...)` and `label(...)`. */
export class PredictionsApi {
  constructor(private readonly transport: HttpTransport) {}

  /** The export's pages as sent (NDJSON, or CSV each with its header row), following the cursor while more follow. */
  async *pages(query: PredictionExportQuery, options: { format?: 'ndjson' | 'csv'; signal?: AbortSignal } = {}): AsyncGenerator<ExportPage, void, undefined> {
    let cursor = query.cursor;
    for (;;) {
      const response = await this.transport.stream({
        method: 'GET',
        path: 'v1/predictions',
        query: {
          model: query.model,
          version: query.version,
          since: instant(query.since),
          until: instant(query.until),
          status: query.status,
          has_label: query.hasLabel,
          shadow: query.shadow,
          tenant: query.tenant,
          cursor,
          limit: query.pageSize,
        },
        headers: { accept: options.format === 'csv' ? 'text/csv' : 'application/x-ndjson' },
        idempotent: true,
        ...(options.signal ? { signal: options.signal } : {}),
      });
      const text = await response.text();
      cursor = response.headers.get('inferq-cursor') ?? cursor;
      const more = response.headers.get('inferq-more') === 'true';
      yield { text, cursor, more };
      if (!more) return;
    }
  }

  /** Every matching prediction, oldest first, page after page. */
  async *export(query: PredictionExportQuery, options: { signal?: AbortSignal } = {}): AsyncGenerator<LoggedPrediction, void, undefined> {
    for await (const page of this.pages(query, options)) {
      yield* ndjsonLines<LoggedPrediction>(oneChunk(page.text));
    }
  }

  /**
   * `POST /v1/labels` with the rows as NDJSON: each is stored, found already there (no-op) or
   * rejected alone with its code. Safe to send again: a label already stored is a no-op.
   */
  async label(rows: readonly LabelRow[], options: { signal?: AbortSignal } = {}): Promise<LabelResults> {
    const body = rows.map((r) => JSON.stringify(r)).join('\n');
    const { body: results } = await this.transport.json<LabelResults>({
      method: 'POST',
      path: 'v1/labels',
      body: { create: () => body, contentType: 'application/x-ndjson', replayable: true },
      idempotent: true,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    return results;
  }
}

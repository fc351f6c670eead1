import { isFinishedStatus, type BatchResultLine, type BatchView, type WebhookTarget } from './api-types.ts';
import { streamEvents, type EventsOptions, type StreamEvent } from './event-stream.ts';
import type { HttpTransport } from './http-transport.ts';
import { longPoll, pollOnce, type WaitOptions } from './long-poll.ts';
import { ndjsonLines } from './ndjson-lines.ts';
import { uploadBody, uploadFormat, type UploadFormat, type UploadProgress, type UploadSource } from './upload-body.ts';

export interface UploadOptions {
  model: string;
  /** Pins a version. Default: the model's routing policy picks one. */
  version?: string;
  /** How long the results are kept after the batch ends. Default: the API's `INFERQ_RESULT_TTL_SECONDS`. */
  ttlSeconds?: number;
  /** Default: `csv` for a `.csv` path, else `ndjson`. */
  format?: UploadFormat;
  /** Announce `batch.progress` / `batch.completed` to this URL. Default: none. */
  webhook?: WebhookTarget;
  /** Called as each chunk of the body goes out. Default: none. */
  onProgress?: (progress: UploadProgress) => void;
  signal?: AbortSignal;
}

const batchPath = (batchId: string) => `v1/batches/${encodeURIComponent(batchId)}`;

/** Batch scoring: `client.batches.upload(...)`, then `wait`, then `results`. */
export class BatchesApi {
  constructor(private readonly transport: HttpTransport) {}

  /**
   * Streams a file or a stream of NDJSON or CSV rows to `POST /v1/batches`; resolves once every
   * row is queued, with the batch. A path is read as it is sent, however large.
   */
  async upload(source: UploadSource, options: UploadOptions): Promise<BatchView> {
    const format = uploadFormat(source, options.format);
    const { body } = await this.transport.json<BatchView>({
      method: 'POST',
      path: 'v1/batches',
      query: {
        model: options.model,
        version: options.version,
        ttl_seconds: options.ttlSeconds,
        webhook_url: options.webhook?.url,
        webhook_events: options.webhook?.events?.join(','),
      },
      body: await uploadBody(source, format, options.onProgress),
      // Not idempotent: a batch sent twice is two batches. Only a 429 (refused before reading) is retried.
      idempotent: false,
      // The answer comes once the last row is queued: a large file takes as long as it takes.
      // The caller's signal bounds it.
      timeoutMs: 0,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    return body;
  }

  async get(batchId: string, options: { signal?: AbortSignal } = {}): Promise<BatchView> {
    return (await pollOnce<BatchView>(this.transport, batchPath(batchId), 0, options.signal)).view;
  }

  /** Long-polls until the batch ends (`succeeded`, `failed` or `canceled`); `onUpdate` sees its counts climb. */
  async wait(batchId: string, options: WaitOptions<BatchView> = {}): Promise<BatchView> {
    const policy = { baseDelayMs: this.transport.options.retryBaseDelayMs, maxDelayMs: this.transport.options.maxRetryDelayMs };
    return longPoll((seconds) => pollOnce<BatchView>(this.transport, batchPath(batchId), seconds, options.signal), (view) => isFinishedStatus(view.status), options, policy, `batch ${batchId}`);
  }

  /** The result lines in input order, parsed, streamed (409 `BATCH_NOT_FINISHED` before the end). */
  async *results(batchId: string, options: { signal?: AbortSignal } = {}): AsyncGenerator<BatchResultLine, void, undefined> {
    const response = await this.transport.stream({ method: 'GET', path: `${batchPath(batchId)}/results`, idempotent: true, ...(options.signal ? { signal: options.signal } : {}) });
    if (!response.body) return;
    yield* ndjsonLines<BatchResultLine>(response.body as unknown as AsyncIterable<Uint8Array>);
  }

  /** Cancels the chunks no worker has started; their rows report `CANCELED`. */
  async cancel(batchId: string, options: { signal?: AbortSignal } = {}): Promise<BatchView> {
    return (await this.transport.json<BatchView>({ method: 'DELETE', path: batchPath(batchId), idempotent: true, ...(options.signal ? { signal: options.signal } : {}) })).body;
  }

  /** The batch's events (`GET /v1/batches/{id}/events`): its state, progress with counts, then the end. */
  events(batchId: string, options: EventsOptions = {}): AsyncGenerator<StreamEvent<BatchView>, void, undefined> {
    return streamEvents<BatchView>(this.transport, `${batchPath(batchId)}/events`, options);
  }
}

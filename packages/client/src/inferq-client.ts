import { isFinishedStatus, type BulkItem, type FinishedJob, type JobRequest, type JobView, type SubmittedJob } from './api-types.ts';
import { BatchesApi } from './batches-api.ts';
import { PredictionsApi } from './predictions-api.ts';
import { resolveClientOptions, type InferqClientOptions, type ResolvedClientOptions } from './client-options.ts';
import { streamEvents, type EventsOptions, type StreamEvent } from './event-stream.ts';
import { HttpTransport } from './http-transport.ts';
import { answeredEarly, longPoll, pollOnce, type WaitOptions } from './long-poll.ts';
import { parseRetryAfter } from './retry-after.ts';
import { sleep } from './retry-delay.ts';

export interface SubmitOptions {
  /**
   * Makes the submit safe to retry: the same key and body give back the same job. Default: a
   * fresh random key per call, so the client's own retries never queue a job twice.
   */
  idempotencyKey?: string;
  signal?: AbortSignal;
}

export interface RunOptions extends SubmitOptions, WaitOptions<JobView> {
  /** Seconds the submit itself is held for the result (`Prefer: wait`) before falling back to `wait`. Default: `10`. */
  holdSeconds?: number;
}

const jobPath = (jobId: string) => `v1/jobs/${encodeURIComponent(jobId)}`;

/**
 * A typed client for inferq's HTTP API (Node 20+, no dependencies beyond `fetch`). Jobs on the
 * client itself, batch scoring on `client.batches`, the prediction log on `client.predictions`. Every method throws an `InferqError` subclass
 * (client-errors.ts) when the API refuses, or cannot be reached after the retries.
 */
export class InferqClient {
  readonly options: ResolvedClientOptions;
  readonly batches: BatchesApi;
  /** The prediction log: export it, and label its predictions. */
  readonly predictions: PredictionsApi;
  private readonly transport: HttpTransport;

  constructor(options: InferqClientOptions = {}) {
    this.options = resolveClientOptions(options);
    this.transport = new HttpTransport(this.options);
    this.batches = new BatchesApi(this.transport);
    this.predictions = new PredictionsApi(this.transport);
  }

  /** `POST /v1/jobs`: queues a job and returns at once with its `job_id`. */
  async submit(request: JobRequest, options: SubmitOptions = {}): Promise<SubmittedJob> {
    return (await this.post<SubmittedJob>(request, options, 0)).body;
  }

  /** `GET /v1/jobs/{id}`: the job now, pending or finished. */
  async get(jobId: string, options: { signal?: AbortSignal } = {}): Promise<JobView> {
    return (await pollOnce<JobView>(this.transport, jobPath(jobId), 0, options.signal)).view;
  }

  /** Long-polls until the job has finished (`succeeded`, `failed` or `canceled`) and returns it. */
  async wait(jobId: string, options: WaitOptions<JobView> = {}): Promise<FinishedJob> {
    return (await longPoll((seconds) => pollOnce<JobView>(this.transport, jobPath(jobId), seconds, options.signal), (view) => isFinishedStatus(view.status), options, this.policy(), `job ${jobId}`)) as FinishedJob;
  }

  /**
   * Submits and waits in one call: the submit asks the API to hold it until the job ends
   * (`Prefer: wait`); if it has not ended by then, long-polls with `wait`.
   */
  async run(request: JobRequest, options: RunOptions = {}): Promise<FinishedJob> {
    const started = Date.now();
    const holdSeconds = Math.min(options.holdSeconds ?? 10, (options.timeoutMs ?? Infinity) / 1000);
    const { body, response } = await this.post<SubmittedJob | FinishedJob>(request, options, holdSeconds);
    if (response.status === 200 && isFinishedStatus(body.status)) return body as FinishedJob;
    const remaining = options.timeoutMs === undefined ? undefined : Math.max(0, options.timeoutMs - (Date.now() - started));
    // Answered at once although asked to hold: the API holds no more waits; come back when it says.
    if (answeredEarly(Date.now() - started, holdSeconds)) {
      await sleep(Math.min((parseRetryAfter(response.headers.get('retry-after')) ?? 0) * 1000, remaining ?? Infinity), options.signal);
    }
    return this.wait(body.job_id, { ...options, ...(remaining === undefined ? {} : { timeoutMs: remaining }) });
  }

  /** `DELETE /v1/jobs/{id}`: cancels a queued or running job and returns it, `canceled` (409 `JOB_NOT_CANCELABLE` once it has finished). */
  async cancel(jobId: string, options: { signal?: AbortSignal } = {}): Promise<FinishedJob> {
    return (await this.transport.json<FinishedJob>({ method: 'DELETE', path: jobPath(jobId), idempotent: true, ...(options.signal ? { signal: options.signal } : {}) })).body;
  }

  /**
   * `POST /v1/jobs/bulk`: each job is checked on its own; the answer lists, in order, each
   * accepted job or `{error}` for one refused. Not retried on an unknown outcome (a bulk call
   * carries no idempotency key); a 429 is, as the API refuses it before queuing anything.
   */
  async bulk(requests: JobRequest[], options: { signal?: AbortSignal } = {}): Promise<BulkItem[]> {
    const { body } = await this.transport.json<{ jobs: BulkItem[] }>({ method: 'POST', path: 'v1/jobs/bulk', json: { jobs: requests }, idempotent: false, ...(options.signal ? { signal: options.signal } : {}) });
    return body.jobs;
  }

  /**
   * The job's events (`GET /v1/jobs/{id}/events`): its state at once, then each change, ending
   * with the finished job. Reconnects with `Last-Event-ID` if the connection drops.
   */
  events(jobId: string, options: EventsOptions = {}): AsyncGenerator<StreamEvent<JobView>, void, undefined> {
    return streamEvents<JobView>(this.transport, `${jobPath(jobId)}/events`, options);
  }

  private policy() {
    return { baseDelayMs: this.options.retryBaseDelayMs, maxDelayMs: this.options.maxRetryDelayMs };
  }

  private post<T>(request: JobRequest, options: SubmitOptions, holdSeconds: number) {
    const headers: Record<string, string> = { 'idempotency-key': options.idempotencyKey ?? globalThis.crypto.randomUUID() };
    if (holdSeconds > 0) headers.prefer = `wait=${holdSeconds}`;
    return this.transport.json<T>({
      method: 'POST',
      path: 'v1/jobs',
      json: request,
      headers,
      // With its Idempotency-Key, a submit sent twice is one job.
      idempotent: true,
      extraTimeoutMs: holdSeconds * 1000,
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }
}

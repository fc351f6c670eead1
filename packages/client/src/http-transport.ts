import { CLIENT_ERROR_CODES, errorFromAnswer, InferqError, InferqRateLimitError, InferqUnavailableError } from './client-errors.ts';
import type { ResolvedClientOptions } from './client-options.ts';
import { parseRetryAfter } from './retry-after.ts';
import { retryDelayMs, sleep } from './retry-delay.ts';

/** What `fetch` takes as a body (`BodyInit` is a DOM type, absent from Node's lib). */
type BodyInit = NonNullable<RequestInit['body']>;

export interface RequestBody {
  /** Makes the body to send; called once per attempt. */
  create(): BodyInit;
  contentType: string;
  /** False for a one-shot stream: a request with such a body is never sent twice. */
  replayable: boolean;
}

export interface ApiRequest {
  method: 'GET' | 'POST' | 'DELETE';
  /** Relative to the base URL, without a leading slash: `v1/jobs`. */
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  json?: unknown;
  body?: RequestBody;
  headers?: Record<string, string>;
  /** Safe to send again when an attempt's outcome is unknown (no answer, 502, 503, 504). */
  idempotent: boolean;
  /** Added to the client's timeout: the wait a long-poll asks the server for. */
  extraTimeoutMs?: number;
  /** Replaces the client's `timeoutMs` for this request (`0`: none). */
  timeoutMs?: number;
  /** The caller reads the body as a stream: the timeout covers the response headers only. */
  streamed?: boolean;
  signal?: AbortSignal;
}

/** Which statuses leave a request's outcome unknown, so that an idempotent one may be sent again. */
const UNKNOWN_OUTCOME = new Set([502, 503, 504]);

/** A marker for our own timeout, told apart from the caller's abort. */
class TimeoutMarker {}

/**
 * Sends API requests: base URL and key, timeouts, typed errors, and retries of what is safe to
 * retry (any 429, which the API answers before acting; an unknown outcome only when idempotent).
 */
export class HttpTransport {
  constructor(readonly options: ResolvedClientOptions) {}

  url(path: string, query: ApiRequest['query'] = {}): URL {
    const url = new URL(path, this.options.baseUrl);
    for (const [name, value] of Object.entries(query)) if (value !== undefined) url.searchParams.set(name, String(value));
    return url;
  }

  /** The parsed JSON of a 2xx answer, with the response (for its headers). */
  async json<T>(request: ApiRequest): Promise<{ body: T; response: Response }> {
    return this.call(request, async (response) => {
      const text = await response.text();
      try {
        return { body: JSON.parse(text) as T, response };
      } catch {
        throw new InferqError(CLIENT_ERROR_CODES.UNEXPECTED_RESPONSE, `expected JSON from ${request.method} /${request.path}, got: ${text.slice(0, 200)}`, {
          status: response.status,
          requestId: response.headers.get('x-request-id') ?? undefined,
        });
      }
    });
  }

  /** A 2xx response whose body the caller streams (set `streamed`). */
  async stream(request: ApiRequest): Promise<Response> {
    return this.call({ ...request, streamed: true }, async (response) => response);
  }

  private async call<T>(request: ApiRequest, read: (response: Response) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      let error: InferqError;
      try {
        return await this.attempt(request, read);
      } catch (thrown) {
        if (!(thrown instanceof InferqError)) throw thrown;
        error = thrown;
      }
      if (attempt >= this.options.maxRetries || !this.retriable(request, error)) throw error;
      if ((error.retryAfterSeconds ?? 0) * 1000 > this.options.maxRetryDelayMs) throw error;
      await sleep(retryDelayMs(attempt + 1, error.retryAfterSeconds, { baseDelayMs: this.options.retryBaseDelayMs, maxDelayMs: this.options.maxRetryDelayMs }), request.signal);
    }
  }

  private retriable(request: ApiRequest, error: InferqError): boolean {
    if (request.body && !request.body.replayable) return false;
    if (error instanceof InferqRateLimitError) return true;
    if (!request.idempotent || !(error instanceof InferqUnavailableError)) return false;
    return error.status === undefined || UNKNOWN_OUTCOME.has(error.status);
  }

  private async attempt<T>(request: ApiRequest, read: (response: Response) => Promise<T>): Promise<T> {
    const controller = new AbortController();
    const signal = request.signal;
    const onCallerAbort = () => controller.abort(signal?.reason);
    if (signal?.aborted) throw signal.reason;
    signal?.addEventListener('abort', onCallerAbort, { once: true });
    const baseTimeoutMs = request.timeoutMs ?? this.options.timeoutMs;
    const timeoutMs = baseTimeoutMs === 0 ? 0 : baseTimeoutMs + (request.extraTimeoutMs ?? 0);
    const timer = timeoutMs > 0 ? setTimeout(() => controller.abort(new TimeoutMarker()), timeoutMs) : undefined;
    const headers: Record<string, string> = { accept: 'application/json', ...this.options.headers, ...request.headers };
    if (this.options.apiKey) headers.authorization = `Bearer ${this.options.apiKey}`;
    let body: BodyInit | undefined;
    if (request.json !== undefined) {
      body = JSON.stringify(request.json);
      headers['content-type'] = 'application/json';
    } else if (request.body) {
      body = request.body.create();
      headers['content-type'] = request.body.contentType;
    }
    const url = this.url(request.path, request.query);
    try {
      let response: Response;
      try {
        // duplex: a streamed body (a batch upload) is sent while the answer may already come.
        response = await this.options.fetch(url, { method: request.method, headers, body, signal: controller.signal, ...(body ? { duplex: 'half' } : {}) } as RequestInit);
      } catch (error) {
        throw this.noAnswer(error, controller.signal, url);
      }
      if (request.streamed) clearTimeout(timer);
      if (!response.ok) {
        const text = await response.text().catch(() => '');
        throw errorFromAnswer(response.status, text, {
          requestId: response.headers.get('x-request-id') ?? undefined,
          retryAfterSeconds: parseRetryAfter(response.headers.get('retry-after')),
        });
      }
      try {
        return await read(response);
      } catch (error) {
        if (error instanceof InferqError) throw error;
        throw this.noAnswer(error, controller.signal, url);
      }
    } finally {
      clearTimeout(timer);
      if (!request.streamed) signal?.removeEventListener('abort', onCallerAbort);
    }
  }

  /** The error for a request that got no (whole) answer: our timeout, the caller's abort, or the network. */
  private noAnswer(error: unknown, signal: AbortSignal, url: URL): unknown {
    if (signal.aborted && signal.reason instanceof TimeoutMarker) {
      return new InferqUnavailableError(CLIENT_ERROR_CODES.RESPONSE_TIMEOUT, `no answer from ${url.origin} in time (timeoutMs ${this.options.timeoutMs})`);
    }
    if (signal.aborted) return signal.reason;
    const cause = (error as { cause?: { message?: string } }).cause?.message ?? (error as Error).message;
    return new InferqUnavailableError(CLIENT_ERROR_CODES.CONNECTION_FAILED, `cannot reach inferq at ${url.origin}: ${cause}`, { cause: error });
  }
}

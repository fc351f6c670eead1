/** How an `InferqClient` talks to the API. Every field is optional; the defaults are given. */
export interface InferqClientOptions {
  /** The API's root URL. Default: the `INFERQ_URL` environment variable, else `http://127.0.0.1:3000`. */
  baseUrl?: string;
  /** Sent as `Authorization: Bearer <key>`. Default: the `INFERQ_API_KEY` environment variable, else none (an API with no keys configured). */
  apiKey?: string;
  /**
   * Milliseconds to wait for the answer to one request; a long-poll adds the wait it asks for.
   * Result downloads and event streams are timed up to their response headers only; batch
   * uploads are not timed (bound them with a `signal`). `0`: no limit. Default: `30000`.
   */
  timeoutMs?: number;
  /** Retries of a call that failed in a way worth retrying (see the README). `0`: none. Default: `3`. */
  maxRetries?: number;
  /** Delay before the first retry, doubled for each next one (with jitter). Default: `250`. */
  retryBaseDelayMs?: number;
  /**
   * The longest delay backoff reaches. A `Retry-After` longer than this ends the retries: the
   * error is thrown with its `retryAfterSeconds`, for the caller to decide. Default: `30000`.
   */
  maxRetryDelayMs?: number;
  /** The `fetch` to use (a proxy agent, a test double). Default: the global `fetch`. */
  fetch?: typeof fetch;
  /** Headers added to every request. Default: none. */
  headers?: Record<string, string>;
}

export interface ResolvedClientOptions {
  baseUrl: URL;
  apiKey: string | undefined;
  timeoutMs: number;
  maxRetries: number;
  retryBaseDelayMs: number;
  maxRetryDelayMs: number;
  fetch: typeof fetch;
  headers: Record<string, string>;
}

export const DEFAULT_BASE_URL = 'http://127.0.0.1:3000';

function count(name: string, value: number | undefined, fallback: number): number {
  const resolved = value ?? fallback;
  if (!Number.isFinite(resolved) || resolved < 0) throw new RangeError(`InferqClient: ${name} must be a number ≥ 0, got ${value}`);
  return resolved;
}

/** Explicit option, then environment variable, then default; checked here, once, at construction. */
export function resolveClientOptions(options: InferqClientOptions, env: Record<string, string | undefined> = globalThis.process?.env ?? {}): ResolvedClientOptions {
  const raw = options.baseUrl ?? env.INFERQ_URL ?? DEFAULT_BASE_URL;
  let baseUrl: URL;
  try {
    baseUrl = new URL(raw);
  } catch {
    throw new TypeError(`InferqClient: baseUrl ${JSON.stringify(raw)} is not a URL`);
  }
  if (baseUrl.protocol !== 'http:' && baseUrl.protocol !== 'https:') throw new TypeError(`InferqClient: baseUrl must be http or https, got ${baseUrl.protocol}`);
  // Paths are joined onto the root: a base of https://host/inferq keeps its /inferq.
  if (!baseUrl.pathname.endsWith('/')) baseUrl.pathname += '/';
  const fetchImpl = options.fetch ?? globalThis.fetch;
  if (typeof fetchImpl !== 'function') throw new TypeError('InferqClient: no fetch available (Node 20+ has a global one; or pass options.fetch)');
  return {
    baseUrl,
    apiKey: options.apiKey ?? (env.INFERQ_API_KEY || undefined),
    timeoutMs: count('timeoutMs', options.timeoutMs, 30_000),
    maxRetries: Math.floor(count('maxRetries', options.maxRetries, 3)),
    retryBaseDelayMs: count('retryBaseDelayMs', options.retryBaseDelayMs, 250),
    maxRetryDelayMs: count('maxRetryDelayMs', options.maxRetryDelayMs, 30_000),
    fetch: fetchImpl,
    headers: { ...options.headers },
  };
}

export interface BackoffPolicy {
  /** Delay before the first retry, doubled each time after. */
  baseDelayMs: number;
  /** The longest delay backoff alone produces. */
  maxDelayMs: number;
}

/**
 * Delay before retry number `attempt` (1 for the first): exponential backoff with jitter, and
 * never less than the server's `Retry-After` when it sent one. Jitter (50-100 % of the step) keeps
 * many clients refused at once from all coming back in the same millisecond.
 */
export function retryDelayMs(attempt: number, retryAfterSeconds: number | undefined, policy: BackoffPolicy, random: () => number = Math.random): number {
  const step = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  const backoff = step * (0.5 + random() * 0.5);
  return Math.max(backoff, (retryAfterSeconds ?? 0) * 1000);
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

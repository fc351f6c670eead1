import { InferqTimeoutError } from './client-errors.ts';
import type { HttpTransport } from './http-transport.ts';
import { parseRetryAfter } from './retry-after.ts';
import { retryDelayMs, sleep, type BackoffPolicy } from './retry-delay.ts';

export interface WaitOptions<T> {
  /** Give up after this many milliseconds with an `InferqTimeoutError` (the job or batch goes on). Default: no limit. */
  timeoutMs?: number;
  /** Seconds each long-poll asks the API to hold the request; the API caps it at `INFERQ_MAX_LONG_POLL_SECONDS`. Default: `20`. */
  pollSeconds?: number;
  /** Called with every state seen, the last one included (a batch's counts, say). */
  onUpdate?: (view: T) => void;
  signal?: AbortSignal;
}

/** One long-poll's answer, with the `Retry-After` it carried (seconds). */
export interface PollAnswer<T> {
  view: T;
  retryAfterSeconds: number | undefined;
}

/** One `GET <path>?wait=N` (a plain GET for 0), with the `Retry-After` it carried. */
export async function pollOnce<T>(transport: HttpTransport, path: string, waitSeconds: number, signal: AbortSignal | undefined): Promise<PollAnswer<T>> {
  const { body, response } = await transport.json<T>({
    method: 'GET',
    path,
    query: { wait: waitSeconds > 0 ? waitSeconds : undefined },
    idempotent: true,
    extraTimeoutMs: waitSeconds * 1000,
    ...(signal ? { signal } : {}),
  });
  return { view: body, retryAfterSeconds: parseRetryAfter(response.headers.get('retry-after')) };
}

/**
 * A long-poll the API answered well before the wait it was asked for, unfinished, means it held
 * no more long-polls (its cap) or cannot long-poll at all: coming straight back would make a busy loop.
 */
export function answeredEarly(elapsedMs: number, askedSeconds: number): boolean {
  return elapsedMs < Math.min((askedSeconds * 1000) / 2, 500);
}

/**
 * Delay before the next long-poll after `consecutiveEarly` early answers: the server's
 * Retry-After at least, growing by backoff while the early answers go on.
 */
export function nextPollDelayMs(consecutiveEarly: number, retryAfterSeconds: number | undefined, policy: BackoffPolicy): number {
  return consecutiveEarly === 0 ? 0 : retryDelayMs(consecutiveEarly, retryAfterSeconds, policy);
}

/** Long-polls `poll(waitSeconds)` until `isFinished`, within `options.timeoutMs`. */
export async function longPoll<T>(
  poll: (waitSeconds: number) => Promise<PollAnswer<T>>,
  isFinished: (view: T) => boolean,
  options: WaitOptions<T>,
  policy: BackoffPolicy,
  what: string,
): Promise<T> {
  const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
  const pollSeconds = options.pollSeconds ?? 20;
  let consecutiveEarly = 0;
  let last: T | undefined;
  for (;;) {
    const remainingMs = deadline - Date.now();
    if (remainingMs <= 0) throw new InferqTimeoutError(`${what} has not finished after ${options.timeoutMs} ms (it goes on)`, last);
    const askedSeconds = Math.min(pollSeconds, Math.ceil(remainingMs) / 1000);
    const started = Date.now();
    const answer = await poll(askedSeconds);
    last = answer.view;
    options.onUpdate?.(answer.view);
    if (isFinished(answer.view)) return answer.view;
    consecutiveEarly = answeredEarly(Date.now() - started, askedSeconds) ? consecutiveEarly + 1 : 0;
    const delay = nextPollDelayMs(consecutiveEarly, answer.retryAfterSeconds, policy);
    await sleep(Math.min(delay, Math.max(0, deadline - Date.now())), options.signal);
  }
}

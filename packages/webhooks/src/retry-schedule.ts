export interface RetryScheduleOptions {
  /** Fraction by which each delay is randomly lengthened or shortened. Default: 0.1 (±10 %). */
  jitter?: number;
  /** Longest wait a receiver's Retry-After may impose. Default: 24 h. */
  maxRetryAfterMs?: number;
  /** Random source in [0, 1) (tests). Default: Math.random. */
  random?: () => number;
}

/**
 * When each delivery attempt happens. `seconds[i]` is the wait before attempt i + 1, the first
 * entry being the initial delivery (0: immediately), so the schedule's length is the number of
 * attempts. Jitter spreads the retries of many deliveries that failed together (a receiver
 * outage) so they do not all come back in the same second.
 */
export class RetrySchedule {
  private readonly jitter: number;
  private readonly maxRetryAfterMs: number;
  private readonly random: () => number;

  constructor(
    readonly seconds: readonly number[],
    options: RetryScheduleOptions = {},
  ) {
    if (seconds.length === 0) throw new Error('a retry schedule needs at least one attempt');
    this.jitter = options.jitter ?? 0.1;
    this.maxRetryAfterMs = options.maxRetryAfterMs ?? 86_400_000;
    this.random = options.random ?? Math.random;
  }

  get attempts(): number {
    return this.seconds.length;
  }

  /**
   * Milliseconds to wait before attempt `attempt` (1-based), never less than the receiver's
   * Retry-After. Undefined past the last attempt.
   */
  delayBefore(attempt: number, retryAfterMs?: number): number | undefined {
    const base = this.seconds[attempt - 1];
    if (base === undefined) return undefined;
    const jittered = base * 1000 * (1 + this.jitter * (2 * this.random() - 1));
    const floor = retryAfterMs === undefined ? 0 : Math.min(retryAfterMs, this.maxRetryAfterMs);
    return Math.round(Math.max(jittered, floor));
  }
}

/** A Retry-After header (delta-seconds or an HTTP date) as milliseconds from `now`; undefined if absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

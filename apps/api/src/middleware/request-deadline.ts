import type { MiddlewareHandler } from 'hono';
import { InferqError } from '@inferq/core/errors';
import type { AppEnv } from '../app-env.ts';
import { preferredWait } from '../wait-time.ts';

export interface RequestDeadlineOptions {
  /** Longest a request may take, on top of the `?wait=` (or `Prefer: wait=`) a long-poll asks for. */
  timeoutMs: number;
  /** Requests exempt from the deadline (streamed batch uploads run as long as their body). */
  exempt?: (method: string, path: string) => boolean;
}

/**
 * Answers 503 REQUEST_TIMEOUT when a request runs past its deadline, rather than holding the
 * client forever (e.g. a Redis that accepts connections but stops answering). The work is not
 * undone: a retried submit should carry an Idempotency-Key.
 */
export function requestDeadline(options: RequestDeadlineOptions): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (options.exempt?.(c.req.method, c.req.path)) return next();
    const wait = Math.max(Number(c.req.query('wait') ?? 0) || 0, preferredWait(c.req.header('prefer'), Number.POSITIVE_INFINITY));
    const ms = options.timeoutMs + (Number.isFinite(wait) && wait > 0 ? wait * 1000 : 0);
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new InferqError('REQUEST_TIMEOUT', `the request took longer than ${ms} ms`, { retryAfterSeconds: 1 })), ms);
    });
    try {
      await Promise.race([next(), expired]);
    } finally {
      clearTimeout(timer);
    }
  };
}

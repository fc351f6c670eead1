import type { HonoRequest, MiddlewareHandler } from 'hono';
import { InferqError } from '@inferq/core/errors';
import type { Logger } from '@inferq/core/logger';
import type { AppEnv } from '../app-env.ts';

export interface InFlightLimitOptions {
  /** Requests this process works on at once; past it, 503 OVERLOADED. 0: no bound. */
  max: number;
  /** Requests that never count and are never refused (health, metrics, long-polls). */
  exempt: (request: HonoRequest) => boolean;
  logger: Logger;
  /** Told of each refused request (the metric). */
  onShed?: () => void;
}

/**
 * Bounds the requests one API process holds at once, before any body is read: past the bound a
 * request is answered 503 OVERLOADED with Retry-After at once, so memory stays bounded and health
 * probes stay answerable however many clients push heavy bodies. A refusal is not logged one by
 * one (that would cost the CPU the refusal saves); one line a second says how many were refused.
 */
export function inFlightLimit(options: InFlightLimitOptions): MiddlewareHandler<AppEnv> {
  let inFlight = 0;
  let shed = 0;
  let reportAt = 0;
  return async (c, next) => {
    if (options.max === 0 || options.exempt(c.req)) return next();
    if (inFlight >= options.max) {
      shed += 1;
      options.onShed?.();
      const now = Date.now();
      if (now >= reportAt) {
        options.logger.warn({ refused: shed, in_flight: inFlight, limit: options.max }, 'overloaded: refusing requests past INFERQ_MAX_IN_FLIGHT_REQUESTS with 503 OVERLOADED');
        shed = 0;
        reportAt = now + 1000;
      }
      throw new InferqError('OVERLOADED', `this API process already works on ${inFlight} requests (INFERQ_MAX_IN_FLIGHT_REQUESTS)`, { retryAfterSeconds: 1, details: { limit: options.max } });
    }
    inFlight += 1;
    try {
      await next();
    } finally {
      inFlight -= 1;
    }
  };
}

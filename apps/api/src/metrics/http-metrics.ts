import type { MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import type { ApiMetrics } from '@inferq/metrics/metrics';
import type { AppEnv } from '../app-env.ts';

/**
 * Counts and times every response by method, route pattern (`/v1/jobs/:id`, never the raw path,
 * so the label's values stay few) and status. Registered before authentication, so 401s count.
 */
export function httpMetrics(metrics: ApiMetrics): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const started = performance.now();
    try {
      await next();
    } finally {
      // The pattern of the handler that answered; a middleware's wildcard when none did.
      const route = c.res.status === 404 && c.error === undefined && routePath(c).endsWith('*') ? 'unmatched' : routePath(c);
      metrics.httpRequest(c.req.method, route, c.res.status, (performance.now() - started) / 1000);
    }
  };
}

import { Hono } from 'hono';
import { exposition, type ApiMetrics } from '@inferq/metrics/metrics';
import type { AppEnv } from '../app-env.ts';

/** `GET /metrics`: Prometheus text format. Public, like the health probes. */
export function metricsRoutes(metrics: ApiMetrics) {
  return new Hono<AppEnv>().get('/metrics', async (c) => {
    const { contentType, body } = await exposition(metrics.registry);
    return c.body(body, 200, { 'content-type': contentType, 'cache-control': 'no-store' });
  });
}

import type { Queue } from 'bullmq';
import { Hono, type MiddlewareHandler } from 'hono';
import { createApiMetrics, type ApiMetrics, type MonitoringSnapshot } from '@inferq/metrics/metrics';
import { QUEUE_DASHBOARD_PATH, queueDashboard } from './admin/queue-dashboard.ts';
import type { AppEnv } from './app-env.ts';
import { httpMetrics } from './metrics/http-metrics.ts';
import { metricsRoutes } from './metrics/metrics-routes.ts';
import { queueSnapshotReader } from './metrics/queue-snapshot.ts';
import { openapiRoutes } from './routes/openapi-routes.ts';
import type { JobStore } from '@inferq/jobs/job-store';
import type { ModelCatalog } from './services/model-catalog.ts';

export interface ApiMetricsOptions {
  catalog: ModelCatalog;
  store: JobStore;
  /** Every model's queue, by model name. */
  queues: ReadonlyMap<string, Queue<any>>;
  /** INFERQ_METRICS_CACHE_MS: how long one reading of queue depths serves scrapes. */
  cacheMs: number;
  /** Quality and drift per version, read on scrape (cached like the queue snapshot). */
  monitoring?: () => Promise<MonitoringSnapshot>;
}

/** One reading shared by every gauge of a scrape, and by scrapes within `cacheMs`. */
function cached<T>(read: () => Promise<T>, cacheMs: number): () => Promise<T> {
  let last: { at: number; value: Promise<T> } | undefined;
  return () => {
    const now = Date.now();
    if (!last || now - last.at > cacheMs) {
      const value = read();
      last = { at: now, value };
      value.catch(() => (last = undefined));
    }
    return last.value;
  };
}

/** The API's metrics: made first, since the job service counts submits into them. */
export function apiMetrics({ catalog, store, queues, cacheMs, monitoring }: ApiMetricsOptions): ApiMetrics {
  const metrics = createApiMetrics({ snapshot: queueSnapshotReader({ queues, catalog, store, cacheMs }), ...(monitoring ? { monitoring: cached(monitoring, Math.max(cacheMs, 1000)) } : {}) });
  for (const name of catalog.names()) {
    for (const v of catalog.get(name).versions) if (v.state === 'available') metrics.seed(name, v.version);
  }
  return metrics;
}

export interface ObservabilityOptions {
  metrics: ApiMetrics;
  /** Every model's queue, by model name. */
  queues: ReadonlyMap<string, Queue<any>>;
  webhookQueue: Queue<any>;
  scheduleQueue: Queue<any>;
  /** The limits request schemas are built with, for the OpenAPI document. */
  maxTtlSeconds: number;
  maxLongPollSeconds: number;
}

/** What the operations side adds to the app: metrics, the API reference and the queue dashboard. */
export interface Observability {
  metrics: ApiMetrics;
  /** Registered before authentication, so refused requests are counted too. */
  httpMetrics: MiddlewareHandler<AppEnv>;
  /** /metrics, /openapi.json, /docs (public) and /admin/queues (mounted after the admin guard). */
  routes: Hono<AppEnv>;
}

export function createObservability(options: ObservabilityOptions): Observability {
  const { metrics } = options;
  const routes = new Hono<AppEnv>()
    .route('/', metricsRoutes(metrics))
    .route('/', openapiRoutes({ maxTtlSeconds: options.maxTtlSeconds, maxLongPollSeconds: options.maxLongPollSeconds }))
    .route(QUEUE_DASHBOARD_PATH, queueDashboard({ modelQueues: options.queues, webhookQueue: options.webhookQueue, scheduleQueue: options.scheduleQueue }));
  return { metrics, httpMetrics: httpMetrics(metrics), routes };
}

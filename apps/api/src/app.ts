import { Hono } from 'hono';
import { requestId } from 'hono/request-id';
import type { Logger } from '@inferq/core/logger';
import type { Redis } from '@inferq/core/redis-connection';
import { InferqError } from '@inferq/core/errors';
import { allowedMethodsOf } from './allowed-methods.ts';
import type { AppEnv } from './app-env.ts';
import { authenticate, requireScope } from './auth/authenticate.ts';
import type { Keyring } from './auth/keyring.ts';
import { handleError, toInferqError } from './error-handler.ts';
import { acceptedContentTypes, JOB_CONTENT_TYPES } from './middleware/accepted-content-types.ts';
import { inFlightLimit } from './middleware/in-flight-limit.ts';
import { rateLimit, type RateLimitOptions } from './middleware/rate-limit.ts';
import { requestDeadline } from './middleware/request-deadline.ts';
import { requestLogger } from './middleware/request-logger.ts';
import type { Observability } from './observability.ts';
import type { WebhookProducer } from '@inferq/webhooks/webhook-service';
import { deliveriesRoutes } from './routes/deliveries-routes.ts';
import { eventsRoutes } from './routes/events-routes.ts';
import type { EventHub } from './services/event-hub.ts';
import { healthRoutes } from './routes/health-routes.ts';
import type { ScheduleRegistry } from '@inferq/batch/schedule';
import { batchesRoutes } from './routes/batches-routes.ts';
import { schedulesRoutes } from './routes/schedules-routes.ts';
import { jobsRoutes } from './routes/jobs-routes.ts';
import { modelsRoutes } from './routes/models-routes.ts';
import type { BatchService } from './services/batch-service.ts';
import type { PredictionService } from './services/prediction-service.ts';
import { predictionsRoutes } from './routes/predictions-routes.ts';
import type { JobService } from './services/job-service.ts';
import type { ModelCatalog } from './services/model-catalog.ts';
import type { StorageMonitor } from './services/storage-monitor.ts';
import type { RoutingService } from './routing/routing-service.ts';
import { routingRoutes } from './routes/routing-routes.ts';
import { v2Routes } from './routes/v2-routes.ts';
import type { Keyspace } from '@inferq/core/keyspace';

export interface AppDeps {
  logger: Logger;
  keyring: Keyring;
  /** Per-tenant request rate; absent: unlimited. */
  rateLimit?: RateLimitOptions;
  redis: Redis;
  catalog: ModelCatalog;
  /** Whether Redis is out of memory: /readyz, and told of every write refused for it. */
  storage: StorageMonitor;
  routing: RoutingService;
  keys: Keyspace;
  jobs: JobService;
  webhooks: WebhookProducer;
  batches: BatchService;
  predictions: PredictionService;
  schedules: ScheduleRegistry;
  /** Server-Sent Event streams: the hub that feeds them, and the heartbeat interval (ms). */
  events: { hub: EventHub; heartbeatMs: number };
  limits: { maxBodyBytes: number; maxBatchBytes: number; maxTtlSeconds: number; maxLongPollSeconds: number; maxJobsPerBulk: number; requestTimeoutMs: number; maxInFlightRequests: number };
  /** /metrics, /openapi.json, /docs, /admin/queues, and the HTTP request metrics. */
  observability: Observability;
}

/** Probes and scrapes are answered however busy the process is; long-polls have their own bound (INFERQ_MAX_HELD_LONG_POLLS). */
const EXEMPT_FROM_IN_FLIGHT = new Set(['/healthz', '/readyz', '/metrics']);

/** The HTTP API, free of any server or process concerns: tests call `app.request()` on it. */
export function createApp(deps: AppDeps) {
  const app = new Hono<AppEnv>();
  app.use(requestId({ headerName: 'x-request-id' }));
  // First of all the work: a refusal costs neither a log line nor a body read.
  app.use(inFlightLimit({ max: deps.limits.maxInFlightRequests, exempt: (req) => req.method === 'GET' && (EXEMPT_FROM_IN_FLIGHT.has(req.path) || req.query('wait') !== undefined), logger: deps.logger, onShed: () => deps.observability.metrics.requestShed() }));
  app.use(requestLogger({ logger: deps.logger }));
  app.use(deps.observability.httpMetrics);
  // Health probes stay open; everything under /v1 and /admin needs a key (unless none is configured).
  app.use('/v1/*', requestDeadline({ timeoutMs: deps.limits.requestTimeoutMs, exempt: (method, path) => method === 'POST' && path === '/v1/batches' }));
  app.use('/v1/*', authenticate({ keyring: deps.keyring }));
  if (deps.rateLimit) app.use('/v1/*', rateLimit(deps.rateLimit));
  // KServe V2: health probes open (like /healthz), the rest like /v1; inference is held for its
  // result, bounded by its own wait (INFERQ_REQUEST_TIMEOUT_MS), not by the deadline.
  const v2Probe = (path: string) => path.startsWith('/v2/health/');
  app.use('/v2/*', requestDeadline({ timeoutMs: deps.limits.requestTimeoutMs, exempt: (method, path) => method === 'POST' && path.endsWith('/infer') }));
  const v2Auth = authenticate({ keyring: deps.keyring });
  // '/v2/*' also matches '/v2' (server metadata).
  app.use('/v2/*', (c, next) => (v2Probe(c.req.path) ? next() : v2Auth(c, next)));
  if (deps.rateLimit) {
    const v2Limit = rateLimit(deps.rateLimit);
    app.use('/v2/*', (c, next) => (v2Probe(c.req.path) ? next() : v2Limit(c, next)));
  }
  app.use('/admin/*', authenticate({ keyring: deps.keyring }), requireScope('admin'));
  app.use('/v1/schedules/*', requireScope('admin'));
  app.use('/v1/jobs', acceptedContentTypes('POST', JOB_CONTENT_TYPES));
  // After the /admin guard, so /admin/queues is behind it; /metrics, /openapi.json and /docs are public.
  app.route('/', deps.observability.routes);
  app.route('/', healthRoutes({ redis: deps.redis, catalog: deps.catalog, storage: deps.storage, authOpen: deps.keyring.open }));
  app.route('/v1/models', routingRoutes({ routing: deps.routing, catalog: deps.catalog, redis: deps.redis, keys: deps.keys, maxBodyBytes: deps.limits.maxBodyBytes }));
  app.route('/v1/models', modelsRoutes({ catalog: deps.catalog, routing: deps.routing, predictions: deps.predictions }));
  app.route('/v1', predictionsRoutes({ predictions: deps.predictions, maxBodyBytes: deps.limits.maxBodyBytes }));
  app.route('/v1/jobs', jobsRoutes({ jobs: deps.jobs, ...deps.limits }));
  app.route('/v1/jobs', deliveriesRoutes({ jobs: deps.jobs, webhooks: deps.webhooks }));
  app.route('/v1', eventsRoutes({ hub: deps.events.hub, heartbeatMs: deps.events.heartbeatMs, jobs: deps.jobs, batches: deps.batches }));
  app.route('/v1/batches', batchesRoutes({ batches: deps.batches, ...deps.limits }));
  app.route('/v2', v2Routes({ redis: deps.redis, catalog: deps.catalog, routing: deps.routing, jobs: deps.jobs, maxBodyBytes: deps.limits.maxBodyBytes, inferTimeoutMs: deps.limits.requestTimeoutMs }));
  app.route('/v1/schedules', schedulesRoutes({ schedules: deps.schedules, catalog: deps.catalog, maxBodyBytes: deps.limits.maxBodyBytes }));
  const allowedMethods = allowedMethodsOf(app);
  app.notFound((c) => {
    const allowed = allowedMethods(c.req.path);
    if (allowed.length === 0) return handleError(new InferqError('NOT_FOUND', `no route ${c.req.method} ${c.req.path}`), c);
    c.header('Allow', allowed.join(', '));
    return handleError(
      new InferqError('METHOD_NOT_ALLOWED', `${c.req.path} does not take ${c.req.method}; it takes ${allowed.join(', ')}`, { details: { method: c.req.method, allowed } }),
      c,
    );
  });
  app.onError((error, c) => {
    if (toInferqError(error).code === 'STORAGE_FULL') deps.storage.refused();
    return handleError(error, c);
  });
  return app;
}

import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * inferq's Prometheus metrics, defined once for both processes. Each API and worker process owns
 * a Registry (never prom-client's global one), so tests can build several in one process.
 * docs/metrics.md documents every metric registered here; a test keeps the two in step, and
 * another checks that docs/grafana-dashboard.json only queries metrics that exist.
 */

/** Milliseconds-scale work (one `session.run`, an HTTP request), in seconds: 0.5 ms to 10 s. */
export const SECONDS_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;
/** Waits that grow with a backlog (queue wait, submit to result): the same, up to 5 minutes. */
export const LATENCY_BUCKETS = [...SECONDS_BUCKETS, 30, 60, 120, 300] as const;
/** Rows per `session.run`: powers of two up to the largest chunk a batch may send. */
export const BATCH_ROWS_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048] as const;

/** BullMQ states counted for queue depth. */
export const QUEUE_STATES = ['waiting', 'prioritized', 'active', 'delayed'] as const;
export type QueueState = (typeof QUEUE_STATES)[number];

/** Label value for `code` on jobs that did not fail. */
export const NO_ERROR_CODE = 'none';

export type Outcome = 'succeeded' | 'failed' | 'canceled';

/** A fresh registry with prom-client's default process and Node.js metrics (event-loop lag included). */
export function createRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** Registered by both processes: the API counts cancellations, workers count the rest. */
function jobsFinished(registry: Registry) {
  return new Counter({
    name: 'inferq_jobs_finished_total',
    help: 'Jobs that reached a final state, by outcome (succeeded, failed, canceled) and error code (none when not failed).',
    labelNames: ['model', 'version', 'outcome', 'code'] as const,
    registers: [registry],
  });
}

/** What the API's queue gauges read on a scrape (cached briefly by whoever provides it). */
export interface QueueSnapshot {
  models: {
    model: string;
    counts: Record<QueueState, number>;
    /** Requests queued (a bundle counts each of its requests), not yet taken by a worker. */
    queuedRequests: number;
    /** Live workers with at least one version of the model ready. */
    workers: number;
    versions: { version: string; workers: number }[];
  }[];
}

/** Each version's labelled quality and feature drift (from the prediction log), read when Prometheus scrapes. */
export interface MonitoringSnapshot {
  versions: {
    model: string;
    version: string;
    quality: { labelled: number; accuracy: number | null; precision: number | null; recall: number | null; log_loss: number | null } | null;
    /** PSI per feature; null for models without named features. */
    drift: Record<string, number> | null;
  }[];
}

export interface ApiMetricsOptions {
  /** Queue depths and worker counts, read when Prometheus scrapes. */
  snapshot: () => Promise<QueueSnapshot>;
  /** Quality and drift per version; absent: those gauges stay empty. */
  monitoring?: () => Promise<MonitoringSnapshot>;
}

/** Gauges of each classifier version's labelled quality, and of each feature's drift. */
function monitoringGauges(registry: Registry, monitoring: (() => Promise<MonitoringSnapshot>) | undefined) {
  const figure = (name: string, help: string, pick: (q: NonNullable<MonitoringSnapshot['versions'][number]['quality']>) => number | null) =>
    new Gauge({
      name,
      help,
      labelNames: ['model', 'version'] as const,
      registers: [registry],
      async collect() {
        if (!monitoring) return;
        const snapshot = await monitoring();
        this.reset();
        for (const v of snapshot.versions) {
          const value = v.quality ? pick(v.quality) : null;
          if (value !== null) this.set({ model: v.model, version: v.version }, value);
        }
      },
    });
  return {
    labelled: figure('inferq_prediction_labelled', "Labelled predictions in the version's quality window (INFERQ_QUALITY_WINDOW), for classifiers.", (q) => q.labelled),
    accuracy: figure('inferq_prediction_accuracy', "Share of the version's labelled predictions whose predicted label was right.", (q) => q.accuracy),
    precision: figure('inferq_prediction_precision', 'Of the labelled predictions of the positive label, the share that were right.', (q) => q.precision),
    recall: figure('inferq_prediction_recall', 'Of the labelled predictions whose label was the positive one, the share predicted so.', (q) => q.recall),
    logLoss: figure('inferq_prediction_log_loss', "Mean negative log probability the version gave its labelled predictions' actual labels.", (q) => q.log_loss),
    drift: new Gauge({
      name: 'inferq_feature_drift_psi',
      help: "Population stability index of a feature's latest values (INFERQ_DRIFT_WINDOW) against the version's reference.",
      labelNames: ['model', 'version', 'feature'] as const,
      registers: [registry],
      async collect() {
        if (!monitoring) return;
        const snapshot = await monitoring();
        this.reset();
        for (const v of snapshot.versions) for (const [feature, value] of Object.entries(v.drift ?? {})) this.set({ model: v.model, version: v.version, feature }, value);
      },
    }),
  };
}

export type ApiMetrics = ReturnType<typeof createApiMetrics>;

export function createApiMetrics(options: ApiMetricsOptions) {
  const registry = createRegistry();
  const submitted = new Counter({
    name: 'inferq_jobs_submitted_total',
    help: 'Jobs accepted by POST /v1/jobs (idempotent replays not counted), by model and the version they were routed to: the traffic split.',
    labelNames: ['model', 'version'] as const,
    registers: [registry],
  });
  const finished = jobsFinished(registry);
  const depth = new Gauge({
    name: 'inferq_queue_jobs',
    help: "Jobs in a model's queue by BullMQ state (waiting, prioritized, active, delayed); batch chunks count one each.",
    labelNames: ['model', 'state'] as const,
    registers: [registry],
    async collect() {
      const snapshot = await options.snapshot();
      this.reset();
      for (const m of snapshot.models) for (const state of QUEUE_STATES) this.set({ model: m.model, state }, m.counts[state]);
    },
  });
  const workers = new Gauge({
    name: 'inferq_model_workers',
    help: 'Live workers (heartbeat within 30 s) that have the model version loaded and warmed.',
    labelNames: ['model', 'version'] as const,
    registers: [registry],
    async collect() {
      const snapshot = await options.snapshot();
      this.reset();
      for (const m of snapshot.models) for (const v of m.versions) this.set({ model: m.model, version: v.version }, v.workers);
    },
  });
  const queuedRequests = new Gauge({
    name: 'inferq_queue_requests',
    help: "Requests queued for the model and not yet taken by a worker (a bundle counts each of its requests): what INFERQ_MAX_QUEUE_DEPTH limits.",
    labelNames: ['model'] as const,
    registers: [registry],
    async collect() {
      const snapshot = await options.snapshot();
      this.reset();
      for (const m of snapshot.models) this.set({ model: m.model }, m.queuedRequests);
    },
  });
  const backlog = new Gauge({
    name: 'inferq_queue_backlog_per_worker',
    help: 'Work waiting to start, divided by the live workers serving the model (divided by 1 when none): the autoscaling signal. Work is the queued requests, or the waiting + prioritized queue jobs when more (batch chunks count one each).',
    labelNames: ['model'] as const,
    registers: [registry],
    async collect() {
      const snapshot = await options.snapshot();
      this.reset();
      for (const m of snapshot.models) this.set({ model: m.model }, Math.max(m.queuedRequests, m.counts.waiting + m.counts.prioritized) / Math.max(1, m.workers));
    },
  });
  const monitoring = monitoringGauges(registry, options.monitoring);
  const httpRequests = new Counter({
    name: 'inferq_http_requests_total',
    help: 'HTTP requests answered by the API, by method, route pattern and status code.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const httpDuration = new Histogram({
    name: 'inferq_http_request_duration_seconds',
    help: 'Time to answer an HTTP request (long-polls included: they last as long as their ?wait=), by method and route pattern.',
    labelNames: ['method', 'route'] as const,
    buckets: [...LATENCY_BUCKETS],
    registers: [registry],
  });
  const storageFull = new Counter({
    name: 'inferq_storage_full_total',
    help: 'Writes Redis refused because it was out of memory (maxmemory under noeviction): each answered 503 STORAGE_FULL. Raise maxmemory or free memory.',
    registers: [registry],
  });
  const shed = new Counter({
    name: 'inferq_http_requests_shed_total',
    help: 'Requests refused 503 OVERLOADED, before their body was read, because the process was at INFERQ_MAX_IN_FLIGHT_REQUESTS.',
    registers: [registry],
  });
  return {
    registry,
    instruments: { submitted, finished, depth, queuedRequests, workers, backlog, httpRequests, httpDuration, ...monitoring, storageFull, shed },
    /** Starts a version's counters at 0, so rate() sees its first job. */
    seed(model: string, version: string): void {
      submitted.inc({ model, version }, 0);
    },
    jobSubmitted(model: string, version: string): void {
      submitted.inc({ model, version });
    },
    jobCanceled(model: string, version: string): void {
      finished.inc({ model, version, outcome: 'canceled', code: NO_ERROR_CODE });
    },
    requestShed(): void {
      shed.inc();
    },
    storageRefused(): void {
      storageFull.inc();
    },
    httpRequest(method: string, route: string, status: number, seconds: number): void {
      httpRequests.inc({ method, route, status: String(status) });
      httpDuration.observe({ method, route }, seconds);
    },
  };
}

/** A finished job as the worker stored it: enough to derive its latencies and outcome. */
export interface FinishedJobFacts {
  model: string;
  version: string;
  outcome: Outcome;
  /** Error code when failed. */
  code?: string | undefined;
  createdAtMs: number;
  /** When its (last) attempt started; null if it never started. */
  startedAtMs: number | null;
  finishedAtMs: number;
}

export interface WorkerMetricsOptions {
  /** Load state of every model version this worker was configured with. */
  versions: () => { model: string; version: string; state: string }[];
}

export type WorkerMetrics = ReturnType<typeof createWorkerMetrics>;

export function createWorkerMetrics(options: WorkerMetricsOptions) {
  const registry = createRegistry();
  const finished = jobsFinished(registry);
  const queueWait = new Histogram({
    name: 'inferq_queue_wait_seconds',
    help: 'From submit to the start of the job\'s last attempt on a worker, for every single job that started.',
    labelNames: ['model', 'version'] as const,
    buckets: [...LATENCY_BUCKETS],
    registers: [registry],
  });
  const submitToResult = new Histogram({
    name: 'inferq_submit_to_result_seconds',
    help: 'From submit to the stored result (what a client waits), for every single job a worker finished, by outcome.',
    labelNames: ['model', 'version', 'outcome'] as const,
    buckets: [...LATENCY_BUCKETS],
    registers: [registry],
  });
  const inference = new Histogram({
    name: 'inferq_inference_seconds',
    help: 'Duration of one session.run on an inference thread (one micro-batch).',
    labelNames: ['model', 'version'] as const,
    buckets: [...SECONDS_BUCKETS],
    registers: [registry],
  });
  const batchRows = new Histogram({
    name: 'inferq_inference_batch_rows',
    help: 'Rows in one session.run (the micro-batch size); average batch size = _sum / _count.',
    labelNames: ['model', 'version'] as const,
    buckets: [...BATCH_ROWS_BUCKETS],
    registers: [registry],
  });
  const rowsScored = new Counter({
    name: 'inferq_batch_rows_scored_total',
    help: 'Rows of batch scoring jobs given a result line, by outcome (succeeded, failed); a retried chunk counts once.',
    labelNames: ['model', 'version', 'outcome'] as const,
    registers: [registry],
  });
  const webhookDeliveries = new Counter({
    name: 'inferq_webhook_deliveries_total',
    help: 'Webhook delivery attempts by event type and outcome: succeeded (2xx), retrying (failed, another attempt scheduled), failed (gave up: last attempt, or 410).',
    labelNames: ['event', 'outcome'] as const,
    registers: [registry],
  });
  const webhookSeconds = new Histogram({
    name: 'inferq_webhook_attempt_seconds',
    help: "Time a webhook receiver took to answer one attempt (or to fail it), by outcome.",
    labelNames: ['outcome'] as const,
    buckets: [...SECONDS_BUCKETS, 15, 30],
    registers: [registry],
  });
  const ready = new Gauge({
    name: 'inferq_model_version_ready',
    help: 'Whether this worker has the model version loaded and warmed (1) or not (0: loading, or failed its checks).',
    labelNames: ['model', 'version'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const v of options.versions()) this.set({ model: v.model, version: v.version }, v.state === 'ready' ? 1 : 0);
    },
  });
  return {
    registry,
    instruments: { finished, queueWait, submitToResult, inference, batchRows, rowsScored, webhookDeliveries, webhookSeconds, ready },
    /** Starts a version's series at 0, so rate() sees its first job. */
    seed(model: string, version: string): void {
      finished.inc({ model, version, outcome: 'succeeded', code: NO_ERROR_CODE }, 0);
      for (const h of [queueWait, inference, batchRows]) h.zero({ model, version });
      submitToResult.zero({ model, version, outcome: 'succeeded' });
    },
    jobFinished(job: FinishedJobFacts): void {
      const labels = { model: job.model, version: job.version };
      finished.inc({ ...labels, outcome: job.outcome, code: job.outcome === 'failed' ? (job.code ?? 'INTERNAL') : NO_ERROR_CODE });
      if (job.outcome === 'canceled') return;
      if (job.startedAtMs !== null) queueWait.observe(labels, Math.max(0, job.startedAtMs - job.createdAtMs) / 1000);
      submitToResult.observe({ ...labels, outcome: job.outcome }, Math.max(0, job.finishedAtMs - job.createdAtMs) / 1000);
    },
    inferenceRun(model: string, version: string, rows: number, inferenceMs: number): void {
      inference.observe({ model, version }, inferenceMs / 1000);
      batchRows.observe({ model, version }, rows);
    },
    batchRowsScored(model: string, version: string, succeeded: number, failed: number): void {
      if (succeeded > 0) rowsScored.inc({ model, version, outcome: 'succeeded' }, succeeded);
      if (failed > 0) rowsScored.inc({ model, version, outcome: 'failed' }, failed);
    },
    webhookAttempt(event: string, outcome: 'succeeded' | 'retrying' | 'failed', latencyMs: number): void {
      webhookDeliveries.inc({ event, outcome });
      webhookSeconds.observe({ outcome }, latencyMs / 1000);
    },
  };
}

/** The text a Prometheus scrape gets, and its content type. */
export async function exposition(registry: Registry): Promise<{ contentType: string; body: string }> {
  return { contentType: registry.contentType, body: await registry.metrics() };
}

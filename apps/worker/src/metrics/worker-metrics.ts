import type { ServerResponse } from 'node:http';
import type { FinishedJobRecord } from '@inferq/core/job-types';
import type { Logger } from '@inferq/core/logger';
import { createWorkerMetrics, exposition, type WorkerMetrics } from '@inferq/metrics/metrics';
import type { WorkerHeartbeat } from '../worker-heartbeat.ts';

export type { WorkerMetrics };

/** The worker's metrics; model version readiness is read from the heartbeat's load states. */
export function workerMetrics(heartbeat: WorkerHeartbeat): WorkerMetrics {
  return createWorkerMetrics({ versions: () => heartbeat.all() });
}

const ms = (iso: string | null) => (iso === null ? null : Date.parse(iso));

/**
 * Counts jobs whose final record was just stored (the result writer's callback, so a job
 * finished twice, e.g. a retry racing a stalled-job check, counts once). Never throws: metrics
 * must not stand between a result and its webhook.
 */
export function countFinishedJobs(metrics: WorkerMetrics, logger: Logger) {
  return (records: readonly FinishedJobRecord[]): void => {
    try {
      for (const record of records) {
        metrics.jobFinished({
          model: record.model,
          version: record.model_version,
          outcome: record.status,
          code: record.error?.code,
          createdAtMs: Date.parse(record.created_at),
          startedAtMs: ms(record.started_at),
          finishedAtMs: Date.parse(record.finished_at),
        });
      }
    } catch (error) {
      logger.warn({ err: error }, 'job metrics not recorded');
    }
  };
}

/** A `session.run` observer for one model version, for VersionRunner's onRun; starts its series at 0. */
export function inferenceRunObserver(metrics: WorkerMetrics, model: string, version: string) {
  metrics.seed(model, version);
  return (rows: number, inferenceMs: number): void => {
    try {
      metrics.inferenceRun(model, version, rows, inferenceMs);
    } catch {
      // A metric must never fail a batch.
    }
  };
}

/** Answers a scrape on the worker's health port. */
export async function sendMetrics(res: ServerResponse, metrics: WorkerMetrics): Promise<void> {
  try {
    const { contentType, body } = await exposition(metrics.registry);
    res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
    res.end(body);
  } catch (error) {
    res.writeHead(500, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { code: 'INTERNAL', message: (error as Error).message } }));
  }
}

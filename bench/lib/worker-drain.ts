import type { Redis } from 'ioredis';
import { startCpuShare, waitForQuiet, type CpuShare } from './cpu-share.ts';
import { runLoad } from './load.ts';
import { KEYS, type BenchStack, type LagWindow } from './stack.ts';
import { summarize, type Summary } from './stats.ts';

export interface DrainResult {
  jobs: number;
  failed: number;
  /** From the first job's start to the last job's finish, as the worker recorded them. */
  spanMs: number;
  jobsPerSecond: number;
  rowsPerSecond: number;
  /** Rows per session.run, as each job's result reports it. */
  batchRows: Summary;
  /** session.run time per batch (timings.inference_ms), one sample per job. */
  inferenceMs: Summary;
  /**
   * Share of the span the inference thread spent in session.run: each job carries its batch's
   * time, weighted by its share of the batch's rows. Well below 1: the thread waited for work.
   */
  inferenceBusy: number;
  lag: LagWindow;
  cpu: CpuShare;
}

interface ResultRecord {
  status: string;
  started_at: string | null;
  finished_at: string;
  batch_size: number | null;
  timings: { inference_ms: number } | null;
}

async function readResults(redis: Redis, ids: string[]): Promise<ResultRecord[]> {
  const records: ResultRecord[] = [];
  for (let i = 0; i < ids.length; i += 1000) {
    const values = await redis.mget(ids.slice(i, i + 1000).map((id) => KEYS.result(id)));
    for (const v of values) if (v) records.push(JSON.parse(v) as ResultRecord);
  }
  return records;
}

/**
 * Queues `jobs` jobs through the real API while no worker serves `model`, then starts one
 * worker (with the lag probe) and lets it drain them: the drain has the machine to itself,
 * as the baselines do.
 */
export interface DrainOptions {
  model: string;
  body: unknown;
  /** Sent in turn instead of `body`. */
  bodies?: unknown[];
  /** Rows per job (all jobs alike). */
  rows: number;
  jobs: number;
  /** Worker settings other than the defaults. */
  workerEnv?: Record<string, string>;
}

export async function drainThroughWorker(stack: BenchStack, options: DrainOptions): Promise<DrainResult> {
  const submitted = await runLoad({
    baseUrl: stack.apiUrl,
    path: '/v1/jobs',
    body: options.body,
    ...(options.bodies ? { bodies: options.bodies } : {}),
    mode: 'closed',
    concurrency: 16,
    durationMs: 0,
    totalJobs: options.jobs,
    awaitResult: false,
    collectJobIds: true,
  });
  const ids = submitted.jobIds ?? [];
  if (ids.length !== options.jobs) throw new Error(`only ${ids.length} of ${options.jobs} ${options.model} jobs were accepted: ${JSON.stringify(submitted.statuses)}`);

  await waitForQuiet();
  const cpu = startCpuShare();
  const worker = await stack.startWorker(options.model, { probe: true, ...(options.workerEnv ? { env: options.workerEnv } : {}) });
  // "worker started" is logged as it starts taking jobs: the lag window starts there.
  await stack.lagWindow(worker);
  if (!(await stack.waitForDrain(options.model, 600_000))) throw new Error(`${options.model} jobs were not drained in 10 minutes`);
  const lag = await stack.lagWindow(worker);
  const share = cpu.stop();
  await stack.stopWorker(options.model);

  const records = await readResults(stack.client, ids);
  const started = records.reduce((min, r) => Math.min(min, Date.parse(r.started_at ?? r.finished_at)), Infinity);
  const finished = records.reduce((max, r) => Math.max(max, Date.parse(r.finished_at)), -Infinity);
  const spanMs = Math.max(1, finished - started);
  const succeeded = records.filter((r) => r.status === 'succeeded').length;
  return {
    jobs: records.length,
    failed: options.jobs - succeeded,
    spanMs,
    jobsPerSecond: (succeeded * 1000) / spanMs,
    rowsPerSecond: (succeeded * options.rows * 1000) / spanMs,
    batchRows: summarize(records.map((r) => r.batch_size ?? 0)),
    inferenceMs: summarize(records.map((r) => r.timings?.inference_ms ?? 0)),
    inferenceBusy: records.reduce((sum, r) => sum + ((r.timings?.inference_ms ?? 0) * options.rows) / Math.max(1, r.batch_size ?? 1), 0) / spanMs,
    lag,
    cpu: share,
  };
}

import os from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { Keyspace } from '../../packages/core/src/keyspace.ts';
import { freePort, startLocalRedis, type LocalRedis } from '../../scripts/lib/local-redis.ts';
import { REPO_ROOT, startService, type ServiceProcess } from '../../test/support/services.ts';
import { sleep } from './stats.ts';

/**
 * The thread policy before issue 12: intra-op threads on every core but one, inference threads at
 * the event loop's priority. Scenario 3 runs a worker with it beside one with today's defaults.
 */
export const OLD_THREAD_DEFAULTS: Record<string, string> = { INFERQ_INTRA_OP_THREADS: String(Math.max(1, os.availableParallelism() - 1)), INFERQ_INFERENCE_NICE: '0' };

/** The queue prefix the services use by default (INFERQ_QUEUE_PREFIX). */
export const PREFIX = 'inferq';
/** The services' key layout under that prefix. */
export const KEYS = new Keyspace(PREFIX);
const LAG_PROBE = path.join(REPO_ROOT, 'bench/children/loop-lag-probe.mjs');
const CPU_PROFILER = path.join(REPO_ROOT, 'bench/children/cpu-profile.mjs');

export interface LagWindow {
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
  mean_ms: number;
  samples: number;
  /** process.memoryUsage() when the window closed. */
  rss_mb: number;
  heap_total_mb: number;
  heap_used_mb: number;
  external_mb: number;
}

/**
 * The processes under test: a private redis-server, one API, workers per model. Every setting
 * is the product default (one inference thread with every core as intra-op threads, which is
 * what the baselines get as well); a worker can be started with others (OLD_THREAD_DEFAULTS).
 */
export class BenchStack {
  api: ServiceProcess | undefined;
  apiUrl = '';
  readonly workers = new Map<string, ServiceProcess>();
  readonly intraOpThreads = os.availableParallelism();
  private readonly queues = new Map<string, Queue>();

  private constructor(
    readonly redis: LocalRedis,
    readonly client: Redis,
    private readonly profileDir: string | undefined,
  ) {}

  static async start(options: { profileDir?: string } = {}): Promise<BenchStack> {
    const redis = await startLocalRedis();
    const client = new Redis(redis.url, { maxRetriesPerRequest: null });
    return new BenchStack(redis, client, options.profileDir);
  }

  private env(name: string, preloads: string[] = []): Record<string, string> {
    const profiled: Record<string, string> = {};
    if (this.profileDir) {
      preloads = [...preloads, CPU_PROFILER];
      profiled.BENCH_CPU_PROFILE_DIR = path.join(this.profileDir, name);
    }
    return {
      REDIS_URL: this.redis.url,
      INFERQ_INFERENCE_THREADS: '1',
      NODE_OPTIONS: [process.env.NODE_OPTIONS ?? '', ...preloads.map((file) => `--import="${file}"`)].join(' ').trim(),
      ...profiled,
    };
  }

  /** The API, with the lag probe loaded (its cost, a 1 ms timer, is negligible). */
  async startApi(extraEnv: Record<string, string> = {}): Promise<ServiceProcess> {
    const port = await freePort();
    // Scenario 6 queues 100k jobs with no worker: the default depth limit (100k) would refuse the last.
    this.api = await startService('api', { env: { ...this.env('api', [LAG_PROBE]), PORT: String(port), INFERQ_MAX_QUEUE_DEPTH: '1000000', ...extraEnv } });
    this.apiUrl = `http://127.0.0.1:${port}`;
    return this.api;
  }

  /**
   * A worker serving one model; `probe` loads the event-loop lag probe into its main thread.
   * `name` tells apart several workers of one model (default: the model); `intraOpThreads`
   * overrides the stack's (all cores), e.g. to share the cores between several workers; `env`
   * adds or overrides environment variables (e.g. OLD_THREAD_DEFAULTS).
   */
  async startWorker(model: string, options: { probe?: boolean; name?: string; intraOpThreads?: number; env?: Record<string, string> } = {}): Promise<ServiceProcess> {
    const name = options.name ?? model;
    const env = {
      ...this.env(`worker-${name}`, options.probe ? [LAG_PROBE] : []),
      INFERQ_MODELS: model,
      ...(options.intraOpThreads ? { INFERQ_INTRA_OP_THREADS: String(options.intraOpThreads) } : {}),
      ...options.env,
    };
    const worker = await startService('worker', { env });
    this.workers.set(name, worker);
    return worker;
  }

  /** Stops the worker started under `name` (its model, unless it was given another name). */
  async stopWorker(name: string): Promise<void> {
    await this.workers.get(name)?.stop('SIGTERM');
    this.workers.delete(name);
  }

  /**
   * The lag probe's histogram since the previous call (the first call only starts a window).
   * It answers on stdout, which startService collects into `lines`.
   */
  async lagWindow(worker: ServiceProcess): Promise<LagWindow> {
    const seen = worker.lines.length;
    worker.child.kill('SIGUSR2');
    for (let waited = 0; waited < 10_000; waited += 10) {
      const line = worker.lines.slice(seen).find((l) => l.includes('"msg":"bench loop lag"'));
      if (line) return JSON.parse(line) as LagWindow;
      await sleep(10);
    }
    throw new Error('the worker did not answer the lag probe: is bench/children/loop-lag-probe.mjs loaded?');
  }

  /** Jobs not yet finished on a model's queue (waiting, running, or waiting for a retry). */
  async pendingJobs(model: string): Promise<number> {
    const queue = this.queues.get(model) ?? new Queue(KEYS.modelQueue(model), { connection: this.client, prefix: PREFIX });
    this.queues.set(model, queue);
    const counts = await queue.getJobCounts('wait', 'active', 'delayed', 'prioritized');
    return Object.values(counts).reduce((a, b) => a + b, 0);
  }

  async waitForDrain(model: string, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if ((await this.pendingJobs(model)) === 0) return true;
      await sleep(100);
    }
    return false;
  }

  async usedMemory(): Promise<number> {
    const info = await this.client.info('memory');
    return Number(/^used_memory:(\d+)/m.exec(info)?.[1] ?? Number.NaN);
  }

  /** Calls per Redis command since start-up (INFO commandstats); diff two to count a window. */
  async commandCalls(): Promise<Record<string, number>> {
    const info = await this.client.info('commandstats');
    const calls: Record<string, number> = {};
    for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls[m[1] as string] = Number(m[2]);
    return calls;
  }

  async redisVersion(): Promise<string> {
    const info = await this.client.info('server');
    return /^redis_version:(.*)$/m.exec(info)?.[1]?.trim() ?? 'unknown';
  }

  /** Empties Redis between scenarios so one scenario's keys do not weigh on the next. */
  async flush(): Promise<void> {
    await this.client.flushall();
  }

  async stop(): Promise<void> {
    await Promise.all([...this.workers.keys()].map((m) => this.stopWorker(m)));
    await this.api?.stop('SIGTERM');
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    this.client.disconnect();
    await this.redis.stop();
  }
}

export interface CommandTally {
  /** Redis commands per job, all kinds together (calls inside Lua scripts included). */
  total: number;
  /** "12.0 (evalsha 2.00, ...)": the total, then each command of at least 0.05 per job, busiest first. */
  text: string;
}

/** Redis commands per job between two commandCalls() readings. */
export function commandsPerJob(before: Record<string, number>, after: Record<string, number>, jobs: number): CommandTally {
  const perJob = Object.entries(after)
    .map(([cmd, n]) => [cmd, (n - (before[cmd] ?? 0)) / Math.max(1, jobs)] as const)
    .sort((a, b) => b[1] - a[1]);
  // The total counts every command; the breakdown leaves out the rare ones (the bench's own INFO).
  const total = perJob.reduce((sum, [, n]) => sum + n, 0);
  const listed = perJob.filter(([, n]) => n >= 0.05);
  return { total, text: `${total.toFixed(1)} (${listed.map(([cmd, n]) => `${cmd} ${n.toFixed(2)}`).join(', ')})` };
}

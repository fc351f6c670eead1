import type { ChainableCommander } from 'ioredis';
import type { Keyspace } from './keyspace.ts';
import type { Redis } from './redis-connection.ts';

/**
 * Per-version health over a sliding window shared by every worker: each finished job adds one
 * sample to a sorted set (score: when it finished), samples older than the window are trimmed
 * on every write, and readers summarise what is left. Queue wait and inference time are kept
 * apart, so a slow canary is told from a long queue.
 */

export interface HealthSample {
  /** Epoch ms when the job finished. */
  at: number;
  ok: boolean;
  queueMs: number;
  /** Omitted when the job never reached session.run (the version was not loaded, say). */
  inferenceMs?: number;
}

export interface Percentiles {
  p50: number | null;
  p95: number | null;
}

export interface VersionHealth {
  requests: number;
  errors: number;
  /** errors / requests; 0 with no requests. */
  error_rate: number;
  queue_ms: Percentiles;
  inference_ms: Percentiles;
}

/** Most samples kept per version, whatever the window: bounds memory and read cost under load. */
export const MAX_SAMPLES = 20_000;

let sequence = 0;

/** `at:ok:queue:inference:unique`; the suffix keeps equal samples distinct members. */
export function encodeSample(sample: HealthSample): string {
  sequence = (sequence + 1) % 1_000_000;
  const inference = sample.inferenceMs === undefined ? '' : String(Math.round(sample.inferenceMs * 1000) / 1000);
  return `${sample.at}:${sample.ok ? 1 : 0}:${Math.round(sample.queueMs)}:${inference}:${process.pid}.${sequence}`;
}

/** Adds the commands that record `samples` for one version to a pipeline (no round trip of its own). */
export function appendSamples(pipeline: ChainableCommander, key: string, samples: HealthSample[], windowMs: number): void {
  if (samples.length === 0) return;
  const now = Date.now();
  const args: (string | number)[] = [];
  for (const s of samples) args.push(s.at, encodeSample(s));
  pipeline.zadd(key, ...args);
  pipeline.zremrangebyscore(key, '-inf', now - windowMs);
  pipeline.zremrangebyrank(key, 0, -(MAX_SAMPLES + 1));
  pipeline.pexpire(key, windowMs * 2);
}

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1] ?? null;
}

export function summarize(members: readonly string[]): VersionHealth {
  let errors = 0;
  const queue: number[] = [];
  const inference: number[] = [];
  for (const member of members) {
    const [, ok, q, inf] = member.split(':');
    if (ok !== '1') errors++;
    queue.push(Number(q));
    if (inf) inference.push(Number(inf));
  }
  queue.sort((a, b) => a - b);
  inference.sort((a, b) => a - b);
  return {
    requests: members.length,
    errors,
    error_rate: members.length === 0 ? 0 : errors / members.length,
    queue_ms: { p50: percentile(queue, 50), p95: percentile(queue, 95) },
    inference_ms: { p50: percentile(inference, 50), p95: percentile(inference, 95) },
  };
}

/** Each version's health over the last `windowMs`, in one round trip. */
export async function readHealth(redis: Redis, keys: Keyspace, model: string, versions: readonly string[], windowMs: number): Promise<Map<string, VersionHealth>> {
  const since = Date.now() - windowMs;
  const pipeline = redis.pipeline();
  for (const v of versions) pipeline.zrangebyscore(keys.versionHealth(model, v), since, '+inf');
  const replies = (await pipeline.exec()) ?? [];
  const health = new Map<string, VersionHealth>();
  versions.forEach((v, i) => {
    const [error, members] = replies[i] ?? [new Error('no reply'), []];
    if (error) throw error;
    health.set(v, summarize(members as string[]));
  });
  return health;
}

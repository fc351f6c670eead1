import type { Keyspace } from '@inferq/core/keyspace';
import type { Redis } from '@inferq/core/redis-connection';

/** One compared pair, as the worker that finished second logs it (apps/worker/src/shadow-log.ts). */
export interface ShadowComparison {
  at: string;
  primary_job_id: string;
  primary_version: string;
  shadow_version: string;
  agree: boolean;
  primary_ok: boolean;
  shadow_ok: boolean;
  primary_inference_ms: number | null;
  shadow_inference_ms: number | null;
}

export interface ShadowPairStats {
  primary_version: string;
  shadow_version: string;
  compared: number;
  agreement_rate: number;
  shadow_errors: number;
  primary_inference_ms: { p50: number | null; p95: number | null };
  shadow_inference_ms: { p50: number | null; p95: number | null };
  /** Per pair, shadow minus primary inference time. */
  latency_delta_ms: { p50: number | null; p95: number | null };
}

function percentiles(values: number[]): { p50: number | null; p95: number | null } {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) => (sorted.length === 0 ? null : (sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? null));
  return { p50: at(50), p95: at(95) };
}

/** Agreement rate and latencies of the recent comparisons, per (primary, shadow) pair of versions. */
export function summarizeShadow(comparisons: ShadowComparison[]): ShadowPairStats[] {
  const groups = new Map<string, ShadowComparison[]>();
  for (const c of comparisons) {
    const key = `${c.primary_version}\u0000${c.shadow_version}`;
    groups.set(key, [...(groups.get(key) ?? []), c]);
  }
  return [...groups.values()].map((list) => {
    const first = list[0] as ShadowComparison;
    const both = list.filter((c) => c.primary_inference_ms !== null && c.shadow_inference_ms !== null);
    return {
      primary_version: first.primary_version,
      shadow_version: first.shadow_version,
      compared: list.length,
      agreement_rate: list.filter((c) => c.agree).length / list.length,
      shadow_errors: list.filter((c) => !c.shadow_ok).length,
      primary_inference_ms: percentiles(list.flatMap((c) => (c.primary_inference_ms === null ? [] : [c.primary_inference_ms]))),
      shadow_inference_ms: percentiles(list.flatMap((c) => (c.shadow_inference_ms === null ? [] : [c.shadow_inference_ms]))),
      latency_delta_ms: percentiles(both.map((c) => (c.shadow_inference_ms as number) - (c.primary_inference_ms as number))),
    };
  });
}

export async function readShadowLog(redis: Redis, keys: Keyspace, model: string, limit = 1000): Promise<ShadowComparison[]> {
  return (await redis.lrange(keys.shadowLog(model), 0, limit - 1)).map((r) => JSON.parse(r) as ShadowComparison);
}

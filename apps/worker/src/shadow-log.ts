import type { Keyspace } from '@inferq/core/keyspace';
import type { Logger } from '@inferq/core/logger';
import { NamedCommand } from '@inferq/core/named-command';
import type { Redis } from '@inferq/core/redis-connection';
import { parseJsonOrUndefined } from '@inferq/core/parse-json';

/** One side of a shadowed job: what its version answered, and how fast. */
export interface ShadowHalf {
  version: string;
  ok: boolean;
  result?: unknown;
  error_code?: string;
  inference_ms: number | null;
}

/** How long the first half waits for the second before the pair is dropped. */
const PAIR_TTL_MS = 10 * 60_000;
const MAX_LOGGED = 1000;

// Stores one half; if the other is already there, takes both (so exactly one writer compares).
const PAIR = new NamedCommand(
  'inferqShadowPair',
  `redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
local other = redis.call('HGET', KEYS[1], ARGV[4])
if other then
  redis.call('DEL', KEYS[1])
  return other
end
return false`,
  1,
);

/** The other half as stored by another worker; undefined when it is not one. */
function decodeHalf(text: string): ShadowHalf | undefined {
  const value = parseJsonOrUndefined(text);
  const half = value as Partial<ShadowHalf> | null;
  if (!half || typeof half.version !== 'string' || typeof half.ok !== 'boolean') return undefined;
  return { version: half.version, ok: half.ok, result: half.result, ...(typeof half.error_code === 'string' ? { error_code: half.error_code } : {}), inference_ms: typeof half.inference_ms === 'number' ? half.inference_ms : null };
}

/** Numbers within 1e-4 absolute or 1e-3 relative; strings and shapes exactly. */
export function sameAnswer(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' && typeof b === 'number') return Math.abs(a - b) <= 1e-4 + 1e-3 * Math.max(Math.abs(a), Math.abs(b));
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => sameAnswer(x, b[i]));
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a).sort();
    const kb = Object.keys(b).sort();
    return sameAnswer(ka, kb) && ka.every((k) => sameAnswer((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
  }
  return a === b;
}

/**
 * Pairs a shadowed job's primary and shadow answers, whichever finishes first, and logs the
 * comparison (agreement, both latencies) to the model's shadow log, which the API summarises
 * on the model's routing status. Neither side ever waits for the other.
 */
export class ShadowLog {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keyspace,
    private readonly logger: Logger,
  ) {
    PAIR.define(redis);
  }

  async record(model: string, primaryJobId: string, side: 'primary' | 'shadow', half: ShadowHalf): Promise<void> {
    try {
      const other = (await PAIR.run(this.redis, this.keys.shadowPair(primaryJobId), side, JSON.stringify(half), PAIR_TTL_MS, side === 'primary' ? 'shadow' : 'primary')) as string | null;
      const theirs = other ? decodeHalf(other) : undefined;
      if (!theirs) return;
      const [primary, shadow] = side === 'primary' ? [half, theirs] : [theirs, half];
      const agree = primary.ok === shadow.ok && (!primary.ok || sameAnswer(primary.result, shadow.result));
      const comparison = {
        at: new Date().toISOString(),
        primary_job_id: primaryJobId,
        primary_version: primary.version,
        shadow_version: shadow.version,
        agree,
        primary_ok: primary.ok,
        shadow_ok: shadow.ok,
        primary_inference_ms: primary.inference_ms,
        shadow_inference_ms: shadow.inference_ms,
      };
      this.logger.info({ model, ...comparison, primary_result: primary.result ?? primary.error_code, shadow_result: shadow.result ?? shadow.error_code }, 'shadow comparison');
      await this.redis.multi().lpush(this.keys.shadowLog(model), JSON.stringify(comparison)).ltrim(this.keys.shadowLog(model), 0, MAX_LOGGED - 1).exec();
    } catch (error) {
      this.logger.warn({ model, job_id: primaryJobId, err: (error as Error).message }, 'shadow comparison not recorded');
    }
  }
}

import type { MiddlewareHandler } from 'hono';
import { InferqError } from '@inferq/core/errors';
import type { Keyspace } from '@inferq/core/keyspace';
import { NamedCommand } from '@inferq/core/named-command';
import { guardRedis, type Redis } from '@inferq/core/redis-connection';
import type { AppEnv } from '../app-env.ts';

export interface RateLimitOptions {
  redis: Redis;
  keys: Keyspace;
  /** Sustained requests per second per tenant. */
  perSecond: number;
  /** Requests allowed at once above the rate. Default: one second's worth. */
  burst?: number;
}

/**
 * GCRA (the generic cell rate algorithm, as in redis-cell): one key per tenant holding its
 * theoretical arrival time. Returns 0 when the request may pass, else the ms to wait.
 */
const GCRA = new NamedCommand(
  'inferqRateLimit',
  `local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local tolerance = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local wait = tat - tolerance - now
if wait > 0 then return math.ceil(wait) end
local next = tat + interval
redis.call('SET', KEYS[1], next, 'PX', math.ceil(next - now) + 1000)
return 0`,
  1,
);

/** Per-tenant request rate shared by every API process: state in Redis, one round trip per request. */
export function rateLimit(options: RateLimitOptions): MiddlewareHandler<AppEnv> {
  const interval = 1000 / options.perSecond;
  const burst = Math.max(1, options.burst || Math.ceil(options.perSecond));
  const tolerance = interval * (burst - 1);
  GCRA.define(options.redis);
  return async (c, next) => {
    const tenant = c.get('principal').tenant;
    const waitMs = (await guardRedis(() => GCRA.run(options.redis, options.keys.rateLimit(tenant), Date.now(), interval, tolerance))) as number;
    if (waitMs > 0) {
      const retryAfterSeconds = Math.ceil(waitMs / 1000);
      throw new InferqError('RATE_LIMITED', `tenant ${tenant} is over ${options.perSecond} requests per second`, {
        retryAfterSeconds,
        details: { limit_per_second: options.perSecond, burst, retry_after_ms: waitMs },
      });
    }
    return next();
  };
}

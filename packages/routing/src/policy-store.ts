import type { Keyspace } from '@inferq/core/keyspace';
import { NamedCommand } from '@inferq/core/named-command';
import type { Redis } from '@inferq/core/redis-connection';
import { routingPolicySchema, type PolicySource, type RoutingPolicy, type StoredPolicy } from './routing-policy.ts';
import { parseJsonOrUndefined } from '@inferq/core/parse-json';

/** One entry of a model's routing history (GET /v1/models/{name}/routing, newest first). */
export interface RoutingEvent {
  type: 'policy_changed' | 'rollback' | 'seeded';
  at: string;
  model: string;
  revision: number;
  source: PolicySource;
  /** Rollbacks: the canary rolled back, the stable version that took its weight, why, and the numbers. */
  version?: string;
  stable?: string;
  reason?: string;
  numbers?: Record<string, unknown>;
  weights?: Record<string, number>;
}

export const MAX_EVENTS = 100;

/**
 * Writes a policy if the stored revision is the expected one ('' = any, 'absent' = only if none
 * is stored), bumps the revision, records the event and publishes the change, all in one step.
 * Returns the new revision, or -1 when the revision had moved on.
 */
const WRITE_POLICY = new NamedCommand(
  'inferqWritePolicy',
  `local current = redis.call('HGET', KEYS[1], 'revision')
if ARGV[1] == 'absent' and current then return -1 end
if ARGV[1] ~= '' and ARGV[1] ~= 'absent' and (current or '0') ~= ARGV[1] then return -1 end
local revision = tonumber(current or '0') + 1
redis.call('HSET', KEYS[1], 'revision', revision, 'policy', ARGV[2], 'source', ARGV[3], 'updated_at', ARGV[4])
local event = string.gsub(ARGV[5], '"revision":0', '"revision":' .. revision, 1)
redis.call('LPUSH', KEYS[2], event)
redis.call('LTRIM', KEYS[2], 0, ${MAX_EVENTS - 1})
redis.call('PUBLISH', ARGV[6], ARGV[7])
return revision`,
  2,
);

/** A routing event as stored; an entry that is not one (written by something else) is skipped. */
function parseEvent(text: string): RoutingEvent | undefined {
  const value = parseJsonOrUndefined(text);
  const event = value as Partial<RoutingEvent> | null;
  if (!event || typeof event !== 'object' || typeof event.type !== 'string' || typeof event.at !== 'string' || typeof event.revision !== 'number') return undefined;
  return event as RoutingEvent;
}

function parse(fields: (string | null)[]): StoredPolicy | undefined {
  const [revision, policy, source, updatedAt] = fields;
  if (!revision || !policy) return undefined;
  const json = parseJsonOrUndefined(policy);
  const parsed = routingPolicySchema.safeParse(json);
  if (!parsed.success) return undefined;
  return { policy: parsed.data, revision: Number(revision), source: (source ?? 'admin') as PolicySource, updated_at: updatedAt ?? new Date(0).toISOString() };
}

/**
 * Routing policies in Redis: written by the API (operators, guardrails, seeding), read by every
 * API process and by workers (scheduled batches run on the stable version); every change is
 * published.
 */
export class PolicyStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keyspace,
  ) {
    WRITE_POLICY.define(redis);
  }

  async read(model: string): Promise<StoredPolicy | undefined> {
    return parse(await this.redis.hmget(this.keys.routing(model), 'revision', 'policy', 'source', 'updated_at'));
  }

  /**
   * Every model's stored policy, read concurrently: each model's policy is on its own cluster slot,
   * and the connection's auto-pipelining still sends them in one write per node.
   */
  async readAll(models: readonly string[]): Promise<Map<string, StoredPolicy | undefined>> {
    const replies = await Promise.all(models.map((m) => this.redis.hmget(this.keys.routing(m), 'revision', 'policy', 'source', 'updated_at')));
    return new Map(models.map((m, i) => [m, parse(replies[i] ?? [])]));
  }

  /**
   * Stores `policy`. `expect`: a revision (compare-and-set; guardrails use it so they never
   * overwrite a change they did not judge), 'absent' (seed only), or undefined (any).
   * Returns the new revision, or undefined when `expect` did not hold.
   */
  async write(model: string, policy: RoutingPolicy, source: PolicySource, event: Omit<RoutingEvent, 'at' | 'model' | 'revision' | 'source'>, expect?: number | 'absent'): Promise<number | undefined> {
    const at = new Date().toISOString();
    // revision first, so the script's substitution finds it
    const record: RoutingEvent = { revision: 0, ...event, at, model, source };
    const revision = (await WRITE_POLICY.run(
      this.redis,
      this.keys.routing(model),
      this.keys.routingEvents(model),
      expect === undefined ? '' : String(expect),
      JSON.stringify(policy),
      source,
      at,
      JSON.stringify(record),
      this.keys.routingChannel(),
      model,
    )) as number;
    return revision < 0 ? undefined : revision;
  }

  async events(model: string, limit = 20): Promise<RoutingEvent[]> {
    const raw = await this.redis.lrange(this.keys.routingEvents(model), 0, limit - 1);
    return raw.flatMap((r) => {
      const event = parseEvent(r);
      return event ? [event] : [];
    });
  }
}

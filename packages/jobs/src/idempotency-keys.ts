import { createHash } from 'node:crypto';
import type { Keyspace } from '@inferq/core/keyspace';
import { NamedCommand } from '@inferq/core/named-command';
import type { Redis } from '@inferq/core/redis-connection';
import { idempotencyRecordCodec, type IdempotencyRecord } from './job-codecs.ts';

// GET-or-SET in one step: of 50 concurrent submits with one key, exactly one claims it.
const CLAIM_IDEMPOTENCY_KEY = new NamedCommand(
  'inferqClaimIdempotencyKey',
  `local existing = redis.call('GET', KEYS[1])
if existing then return existing end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return false`,
  1,
);

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** Sorted-key JSON, so two bodies that differ only in key order or spacing count as the same request. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** What an Idempotency-Key compares: the request body, whatever its key order or spacing. */
export function bodyDigest(body: unknown): string {
  return sha256(canonicalJson(body));
}

/**
 * Idempotency-Key: the same key and body give the same job for `ttlMs`; the same key with another
 * body is refused by the caller. Keys are scoped by tenant, so two tenants using the same key
 * never see each other's jobs.
 */
export class IdempotencyKeys {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keyspace,
    private readonly ttlMs: number,
  ) {
    CLAIM_IDEMPOTENCY_KEY.define(redis);
  }

  private key(tenant: string, key: string): string {
    return this.keys.idempotency(sha256(`${tenant}\u0000${key}`));
  }

  /** Claims the key for `record`; returns the record that already held it, if any. */
  async claim(tenant: string, key: string, record: IdempotencyRecord): Promise<IdempotencyRecord | undefined> {
    const existing = (await CLAIM_IDEMPOTENCY_KEY.run(this.redis, this.key(tenant, key), idempotencyRecordCodec.encode(record), this.ttlMs)) as string | null;
    return existing ? idempotencyRecordCodec.decode(existing) : undefined;
  }

  /** Frees a key whose job was never queued, so a retry queues it. */
  async release(tenant: string, key: string): Promise<void> {
    await this.redis.del(this.key(tenant, key));
  }
}

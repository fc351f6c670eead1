import { Redis, type RedisOptions } from 'ioredis';
import { InferqError } from './errors.ts';

export type { Redis };

/**
 * Producer connections (API): a command issued while Redis is unreachable fails at once instead
 * of waiting in ioredis' offline queue, so a request gets 503 + Retry-After rather than hanging.
 */
export function createProducerConnection(url: string, options: RedisOptions = {}): Redis {
  return new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 5000,
    connectTimeout: 5000,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
    lazyConnect: false,
    ...options,
  });
}

/** Blocking connections (BullMQ workers, subscribers): BullMQ requires maxRetriesPerRequest null. */
export function createBlockingConnection(url: string, options: RedisOptions = {}): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: null,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
    ...options,
  });
}

export interface RedisRequirements {
  version: string;
  maxmemoryPolicy: string;
}

const MIN_MAJOR = 6;
const MIN_MINOR = 2;

/**
 * inferq loses jobs if Redis evicts keys, and BullMQ needs Redis 6.2 commands. Both are checked
 * at start-up so a misconfigured Redis stops the process with the fix, not at the first lost job.
 */
export async function checkRedisRequirements(redis: Redis): Promise<RedisRequirements> {
  const info = await redis.info();
  const field = (name: string) => new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim() ?? '';
  const version = field('redis_version');
  const maxmemoryPolicy = field('maxmemory_policy');
  const [major = 0, minor = 0] = version.split('.').map((p) => Number.parseInt(p, 10));
  const tooOld = major < MIN_MAJOR || (major === MIN_MAJOR && minor < MIN_MINOR);
  if (!version || tooOld) {
    throw new Error(`Redis ${version || '(unknown version)'} is too old: inferq needs Redis >= 6.2. Upgrade Redis (or run 'docker compose up redis').`);
  }
  if (maxmemoryPolicy && maxmemoryPolicy !== 'noeviction') {
    throw new Error(
      `Redis maxmemory-policy is '${maxmemoryPolicy}': queued jobs and results could be evicted. ` +
        `Set it to noeviction: 'redis-cli CONFIG SET maxmemory-policy noeviction' and 'maxmemory-policy noeviction' in redis.conf.`,
    );
  }
  return { version, maxmemoryPolicy };
}

const UNAVAILABLE_PATTERNS = [
  /enableOfflineQueue/i,
  /Connection is closed/i,
  /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|EHOSTUNREACH/,
  /Command timed out/i,
  /Stream isn't writeable/i,
  /max retries per request/i,
  /LOADING/,
];

/** True when an error means "Redis is not reachable right now" rather than a bug. */
export function isRedisUnavailableError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const text = `${error.name} ${error.message} ${(error as { code?: string }).code ?? ''}`;
  return UNAVAILABLE_PATTERNS.some((p) => p.test(text));
}

/**
 * True for Redis' refusal of a write at `maxmemory` under `noeviction` ("OOM command not allowed
 * when used memory > 'maxmemory'"), also when a Lua script (BullMQ's adds, inferq's commands) got it.
 * Nothing of the refused command was written: Redis refuses a script at its first write.
 */
export function isRedisOutOfMemoryError(error: unknown): boolean {
  return error instanceof Error && /\bOOM command not allowed\b/.test(error.message);
}

/** Seconds a client is told to wait when Redis is full: memory frees as results expire or are drained. */
const STORAGE_FULL_RETRY_AFTER_SECONDS = 10;

export function storageFull(cause: unknown): InferqError {
  return new InferqError('STORAGE_FULL', undefined, { retryAfterSeconds: STORAGE_FULL_RETRY_AFTER_SECONDS, cause });
}

/**
 * Failures after which a write may or may not have been applied: the command was sent, then timed
 * out or lost its connection before the reply. (A command refused before it was sent, with the
 * offline queue off, fails with "Stream isn't writeable" instead: that one surely did nothing.)
 */
const OUTCOME_UNKNOWN_PATTERNS = [/Command timed out/i, /Connection is closed/i, /ECONNRESET|EPIPE/, /max retries per request/i];

/** True when a write failed in a way that does not say whether Redis applied it. */
export function isRedisOutcomeUnknownError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const text = `${error.name} ${error.message} ${(error as { code?: string }).code ?? ''}`;
  return OUTCOME_UNKNOWN_PATTERNS.some((p) => p.test(text));
}

export function redisUnavailable(cause: unknown): InferqError {
  return new InferqError('REDIS_UNAVAILABLE', undefined, { retryAfterSeconds: 2, cause });
}

/**
 * Runs `work`, turning "Redis is unreachable" and "Redis is out of memory" into the 503s a client
 * can retry; other errors pass through.
 */
export async function guardRedis<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (isRedisOutOfMemoryError(error)) throw storageFull(error);
    if (isRedisUnavailableError(error)) throw redisUnavailable(error);
    throw error;
  }
}

import { Cluster, Redis as StandaloneRedis, type RedisOptions } from 'ioredis';
import { InferqError } from './errors.ts';
import { parseRedisTarget } from './redis-target.ts';

/** A connection to Redis: one server (`redis://`) or a Redis Cluster (`redis-cluster://`). */
export type Redis = StandaloneRedis | Cluster;

/** Options of a connection, whichever kind; `enableOfflineQueue` applies to the cluster client as a whole. */
function connect(url: string, options: RedisOptions): Redis {
  const target = parseRedisTarget(url);
  if (!target) throw new Error(`REDIS_URL ${JSON.stringify(url)} is neither redis://, rediss://, redis-cluster:// nor rediss-cluster://`);
  if (target.kind === 'standalone') return new StandaloneRedis(url, options);
  const { enableOfflineQueue, lazyConnect, retryStrategy, enableAutoPipelining, ...nodeOptions } = options;
  return new Cluster(target.nodes, {
    // Sharded pub/sub (SSUBSCRIBE): each model's completions are published on its own master.
    shardedSubscribers: true,
    ...(enableOfflineQueue === undefined ? {} : { enableOfflineQueue }),
    ...(lazyConnect === undefined ? {} : { lazyConnect }),
    ...(enableAutoPipelining === undefined ? {} : { enableAutoPipelining }),
    clusterRetryStrategy: (attempt: number) => (retryStrategy ? retryStrategy(attempt) : Math.min(attempt * 200, 2000)),
    redisOptions: {
      ...nodeOptions,
      ...(target.username ? { username: target.username } : {}),
      ...(target.password ? { password: target.password } : {}),
      ...(target.tls ? { tls: {} } : {}),
    },
  });
}

/**
 * Producer connections (API): a command issued while Redis is unreachable fails at once instead
 * of waiting in ioredis' offline queue, so a request gets 503 + Retry-After rather than hanging.
 */
export function createProducerConnection(url: string, options: RedisOptions = {}): Redis {
  return connect(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 5000,
    connectTimeout: 5000,
    retryStrategy: (attempt: number) => Math.min(attempt * 200, 2000),
    lazyConnect: false,
    ...options,
  });
}

/** Blocking connections (BullMQ workers, subscribers): BullMQ requires maxRetriesPerRequest null. */
export function createBlockingConnection(url: string, options: RedisOptions = {}): Redis {
  return connect(url, {
    maxRetriesPerRequest: null,
    retryStrategy: (attempt: number) => Math.min(attempt * 200, 2000),
    ...options,
  });
}

export interface RedisRequirements {
  version: string;
  maxmemoryPolicy: string;
}

const MIN_MAJOR = 7;
const MIN_MINOR = 0;

/**
 * inferq loses jobs if Redis evicts keys, and it needs Redis 7 (sharded pub/sub, script flags).
 * Both are checked at start-up, on every master of a cluster, so a misconfigured Redis stops the
 * process with the fix, not at the first lost job.
 */
export async function checkRedisRequirements(redis: Redis): Promise<RedisRequirements> {
  if (redis instanceof Cluster) await clusterReady(redis);
  const servers = masterServers(redis);
  if (servers.length === 0) throw new Error('the Redis Cluster has no reachable master');
  let first: RedisRequirements | undefined;
  for (const server of servers) {
    const checked = checkServer(await server.info(), redis instanceof Cluster ? `${server.options.host}:${server.options.port}` : undefined);
    first ??= checked;
  }
  return first as RedisRequirements;
}

/** The servers that hold data: the one server, or every master a cluster client knows of. */
export function masterServers(redis: Redis): StandaloneRedis[] {
  return redis instanceof Cluster ? redis.nodes('master') : [redis];
}

/** A cluster client knows its masters only once it has read the slot map: wait for that, a while. */
async function clusterReady(cluster: Cluster, timeoutMs = 15_000): Promise<void> {
  if (cluster.status === 'ready') return;
  let timer: NodeJS.Timeout | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      cluster.once('ready', resolve);
      timer = setTimeout(() => reject(new Error(`the Redis Cluster did not become ready within ${timeoutMs / 1000} s (are the seed nodes cluster masters, and is cluster_state ok?)`)), timeoutMs);
    });
  } finally {
    clearTimeout(timer);
  }
}

function checkServer(info: string, node: string | undefined): RedisRequirements {
  const field = (name: string) => new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim() ?? '';
  const where = node ? ` (cluster node ${node})` : '';
  const version = field('redis_version');
  const maxmemoryPolicy = field('maxmemory_policy');
  const [major = 0, minor = 0] = version.split('.').map((p) => Number.parseInt(p, 10));
  const tooOld = major < MIN_MAJOR || (major === MIN_MAJOR && minor < MIN_MINOR);
  if (!version || tooOld) {
    throw new Error(`Redis ${version || '(unknown version)'}${where} is too old: inferq needs Redis >= ${MIN_MAJOR}.${MIN_MINOR}. Upgrade Redis (or run 'docker compose up redis').`);
  }
  if (maxmemoryPolicy && maxmemoryPolicy !== 'noeviction') {
    throw new Error(
      `Redis maxmemory-policy is '${maxmemoryPolicy}'${where}: queued jobs and results could be evicted. ` +
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
  // A cluster client between topology refreshes, or with no master reachable.
  /ClusterAllFailedError|Failed to refresh slots cache|Cluster isn't ready|CLUSTERDOWN|TRYAGAIN/,
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

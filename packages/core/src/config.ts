import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { parseRedisTarget } from './redis-target.ts';

/**
 * Every setting inferq reads, with its environment variable and default. Resolution order is
 * explicit option, then environment variable, then default; the result is validated once at
 * start-up so a typo fails the process before it takes traffic. README's configuration table is
 * checked against this list by a test.
 */
export const CONFIG_SPEC = {
  port: { env: 'PORT', default: '3000', doc: 'HTTP port of the API.' },
  host: { env: 'HOST', default: '127.0.0.1', doc: 'Interface the API binds; 0.0.0.0 in containers.' },
  redisUrl: { env: 'REDIS_URL', default: 'redis://127.0.0.1:6379', doc: 'Redis connection URL: redis:// or rediss:// for one server; redis-cluster://host:port,host:port (rediss-cluster:// for TLS) for a Redis Cluster.' },
  redisClusterNodes: { env: 'REDIS_CLUSTER_NODES', default: '', doc: 'Seed nodes of a Redis Cluster (host:port,host:port); when set, replaces REDIS_URL. Each model\'s keys share one hash slot, so models spread over the masters.' },
  queuePrefix: { env: 'INFERQ_QUEUE_PREFIX', default: 'inferq', doc: 'Prefix of every Redis key inferq writes (one prefix isolates a deployment); no braces: inferq hash-tags keys by model itself.' },
  modelDir: { env: 'INFERQ_MODEL_DIR', default: '', doc: "Model repository: <dir>/<name>/<version>/model.json. Empty: the repository's own models/." },
  dataDir: { env: 'INFERQ_DATA_DIR', default: '', doc: "Local state of npm start: its private Redis keeps its append-only file and owner record in <dir>/redis. Empty: .inferq in the checkout." },
  models: { env: 'INFERQ_MODELS', default: '', doc: 'Comma-separated model names a worker serves; empty serves every model in the repository.' },
  resultTtlSeconds: { env: 'INFERQ_RESULT_TTL_SECONDS', default: '3600', doc: 'How long a finished job is kept when the request names no ttl_seconds.' },
  maxResultTtlSeconds: { env: 'INFERQ_MAX_RESULT_TTL_SECONDS', default: '604800', doc: 'Largest ttl_seconds a request may ask for.' },
  idempotencyTtlSeconds: { env: 'INFERQ_IDEMPOTENCY_TTL_SECONDS', default: '86400', doc: 'How long an Idempotency-Key is remembered.' },
  maxBodyBytes: { env: 'INFERQ_MAX_BODY_BYTES', default: '10485760', doc: 'Largest request body; larger gets 413 before it is parsed.' },
  maxBatchBytes: { env: 'INFERQ_MAX_BATCH_BYTES', default: '4294967296', doc: 'Largest batch upload (NDJSON or CSV, streamed); larger gets 413.' },
  batchChunkRows: { env: 'INFERQ_BATCH_CHUNK_ROWS', default: '1024', doc: 'Rows of a batch scored as one queue job.' },
  schedulesFile: { env: 'INFERQ_SCHEDULES_FILE', default: '', doc: 'JSON file of batch schedules ({"name": {cron, tz, model, input, output}}), upserted at API start; empty: schedules come from the API only.' },
  maxJobsPerBulk: { env: 'INFERQ_MAX_JOBS_PER_BULK', default: '1000', doc: 'Most jobs one POST /v1/jobs/bulk may carry.' },
  bundleMaxBytes: { env: 'INFERQ_BUNDLE_MAX_BYTES', default: '1048576', doc: "Most payload bytes in one bundle (one queue job carrying many requests); a bundle also stops at its model's max_batch_size rows and 1,024 requests." },
  maxInFlightRequests: { env: 'INFERQ_MAX_IN_FLIGHT_REQUESTS', default: '1024', doc: 'Requests one API process works on at once (health, readiness, metrics and GET long-polls, which INFERQ_MAX_HELD_LONG_POLLS bounds, excepted); past it, a request is answered 503 OVERLOADED with Retry-After before its body is read. 0: no bound.' },
  requestTimeoutMs: { env: 'INFERQ_REQUEST_TIMEOUT_MS', default: '30000', doc: 'Longest an API request may take (plus its ?wait for long-polls; batch uploads excepted) before it is answered 503 REQUEST_TIMEOUT.' },
  maxRowsPerJob: { env: 'INFERQ_MAX_ROWS_PER_JOB', default: '1024', doc: 'Most rows (first tensor dimension) one job may carry.' },
  maxImagePixels: { env: 'INFERQ_MAX_IMAGE_PIXELS', default: '16777216', doc: 'Largest image (width × height) a job may carry; checked from the header, before decoding.' },
  maxImageWidth: { env: 'INFERQ_MAX_IMAGE_WIDTH', default: '2048', doc: 'Widest input, in pixels after resizing, for dynamic-width image models; wider lines are cut and the result says so.' },
  maxLongPollSeconds: { env: 'INFERQ_MAX_LONG_POLL_SECONDS', default: '60', doc: 'Longest ?wait= a GET may hold the request.' },
  maxHeldLongPolls: { env: 'INFERQ_MAX_HELD_LONG_POLLS', default: '2000', doc: 'Long-polls one API process holds at once; past it, a ?wait= GET answers at once with the current state and a Retry-After, so memory stays bounded however many clients wait. 0: never hold.' },
  maxHeldEventStreams: { env: 'INFERQ_MAX_HELD_EVENT_STREAMS', default: '1000', doc: 'Server-Sent Event streams (GET /v1/jobs/{id}/events, /v1/batches/{id}/events) one API process holds at once; past it, a new stream is answered 503 EVENT_STREAMS_FULL with a Retry-After. 0: no streams.' },
  eventHeartbeatMs: { env: 'INFERQ_EVENT_HEARTBEAT_MS', default: '15000', doc: 'How often a held event stream sends a comment line (heartbeat) when nothing else happened, so proxies keep it open; the state is re-read from Redis at the same time.' },
  jobAttempts: { env: 'INFERQ_JOB_ATTEMPTS', default: '3', doc: 'Attempts per job for infrastructure failures (a crashed worker, a failed session); bad input fails at once.' },
  lockDurationMs: { env: 'INFERQ_LOCK_DURATION_MS', default: '30000', doc: 'Job lock time; a worker that stops renewing it (killed) loses its jobs to others after this long.' },
  stalledIntervalMs: { env: 'INFERQ_STALLED_INTERVAL_MS', default: '30000', doc: 'How often workers look for jobs whose lock expired.' },
  inferenceThreads: { env: 'INFERQ_INFERENCE_THREADS', default: '1', doc: 'Inference threads per model version in a worker (one onnxruntime session each).' },
  intraOpThreads: { env: 'INFERQ_INTRA_OP_THREADS', default: '0', doc: 'onnxruntime intra-op threads per session; 0 = cores / inference threads, at least 1: the model gets every core the event loop does not use (see INFERQ_INFERENCE_NICE).' },
  intraOpSpinning: { env: 'INFERQ_INTRA_OP_SPINNING', default: 'false', doc: 'Whether idle intra-op threads spin-wait for work (onnxruntime session.intra_op.allow_spinning) instead of sleeping; spinning burns the cores the event loop needs between runs.' },
  intraOpDynamicBlockBase: { env: 'INFERQ_INTRA_OP_DYNAMIC_BLOCK_BASE', default: '0', doc: 'onnxruntime session.dynamic_block_base: cut parallel loops into shrinking blocks so a preempted intra-op thread delays its operator less; 0: the static split.' },
  imageThreads: { env: 'INFERQ_IMAGE_THREADS', default: '0', doc: 'Threads per image model version that decode, resize and normalise images (libvips works on many images in each); 0 = half the cores, at least 1, at most 4.' },
  inferenceNice: { env: 'INFERQ_INFERENCE_NICE', default: '10', doc: 'Added to the nice value of inference threads and their intra-op threads (Linux), so the kernel runs the worker\'s event loop first whenever it has work and the model on every core otherwise; 0: same priority as the event loop.' },
  executionProviders: { env: 'INFERQ_EXECUTION_PROVIDERS', default: 'cpu', doc: 'Ordered execution providers, e.g. cuda,cpu; an unavailable one is skipped with a warning.' },
  batchConcurrencyFactor: { env: 'INFERQ_BATCH_CONCURRENCY_FACTOR', default: '2', doc: 'Jobs a worker keeps in flight per model, as a multiple of max_batch_size × inference threads.' },
  shutdownTimeoutMs: { env: 'INFERQ_SHUTDOWN_TIMEOUT_MS', default: '30000', doc: 'On SIGTERM, how long in-flight batches may take before the process exits anyway.' },
  workerHealthPort: { env: 'INFERQ_WORKER_HEALTH_PORT', default: '0', doc: 'Port of the worker health and metrics endpoints (/healthz, /readyz, /metrics); 0 disables them.' },
  metricsCacheMs: { env: 'INFERQ_METRICS_CACHE_MS', default: '1000', doc: 'How long the API reuses one reading of queue depths and worker counts for /metrics, so frequent scrapes cost Redis little.' },
  webhookSecrets: { env: 'INFERQ_WEBHOOK_SECRET', default: '', doc: 'Webhook signing secret(s), whsec_<base64>; several (space- or comma-separated) sign every delivery with each, for rotation. Empty: one is generated once and kept in Redis.' },
  webhookTimeoutMs: { env: 'INFERQ_WEBHOOK_TIMEOUT_MS', default: '15000', doc: 'How long a webhook receiver has to answer 2xx before the attempt counts as failed.' },
  webhookRetrySchedule: { env: 'INFERQ_WEBHOOK_RETRY_SCHEDULE', default: '0,5,300,1800,7200,18000,36000,36000', doc: 'Seconds before each webhook delivery attempt (the first is the initial one), comma-separated; jittered by ±10 %.' },
  webhookAllowCidrs: { env: 'INFERQ_WEBHOOK_ALLOW_CIDRS', default: '', doc: 'Comma-separated CIDRs webhooks may reach although private, loopback or otherwise refused (e.g. 10.0.0.0/8).' },
  webhookConcurrency: { env: 'INFERQ_WEBHOOK_CONCURRENCY', default: '16', doc: 'Webhook deliveries a worker process keeps in flight.' },
  apiKeys: { env: 'INFERQ_API_KEYS', default: '', doc: 'API keys as tenant:key pairs, comma-separated (tenant-a:key1,tenant-b:key2). With no keys at all the API runs open, as tenant "default" (development only; it says so in logs and /readyz).' },
  apiKeysFile: { env: 'INFERQ_API_KEYS_FILE', default: '', doc: 'File of tenant:key lines (# comments allowed), re-read when it changes: rotate keys without a restart.' },
  adminKeys: { env: 'INFERQ_ADMIN_KEYS', default: '', doc: 'Comma-separated keys with the admin scope (schedules, queue dashboard, routing).' },
  rateLimitPerSecond: { env: 'INFERQ_RATE_LIMIT_PER_SECOND', default: '0', doc: 'Requests per second each tenant may make to /v1 (shared by every API process, in Redis); 0: no limit.' },
  rateLimitBurst: { env: 'INFERQ_RATE_LIMIT_BURST', default: '0', doc: 'Requests a tenant may make at once above its rate; 0: one second\'s worth.' },
  maxQueueDepth: { env: 'INFERQ_MAX_QUEUE_DEPTH', default: '100000', doc: 'Queued jobs per model beyond which POST /v1/jobs gets 429 with a Retry-After from the drain rate; a manifest\'s max_queue_depth overrides it.' },
  modelRescanMs: { env: 'INFERQ_MODEL_RESCAN_MS', default: '10000', doc: 'How often workers look for new version directories and hot-load them (after the sha256 check and a warm-up); 0: only when POST /v1/models/rescan asks.' },
  routingRefreshMs: { env: 'INFERQ_ROUTING_REFRESH_MS', default: '5000', doc: 'How often each API process re-reads the routing policies from Redis, as a safety net behind the pub/sub change notice.' },
  healthWindowSeconds: { env: 'INFERQ_HEALTH_WINDOW_SECONDS', default: '300', doc: 'Sliding window (shared by every worker, in Redis) over which each version\'s request count, error rate and latency percentiles are measured.' },
  guardrailIntervalMs: { env: 'INFERQ_GUARDRAIL_INTERVAL_MS', default: '5000', doc: 'How often the API checks canaries against the guardrails (one API process at a time); 0: never.' },
  guardrailMinSamples: { env: 'INFERQ_GUARDRAIL_MIN_SAMPLES', default: '100', doc: 'Default guardrail: requests each of canary and stable needs in the window before it is judged.' },
  guardrailMaxP95DeltaMs: { env: 'INFERQ_GUARDRAIL_MAX_P95_DELTA_MS', default: '20', doc: 'Default guardrail: roll a canary back when its p95 inference time exceeds the stable version\'s by more than this.' },
  guardrailMaxErrorRatio: { env: 'INFERQ_GUARDRAIL_MAX_ERROR_RATIO', default: '2', doc: 'Default guardrail: roll a canary back when its error rate exceeds the stable version\'s times this (and INFERQ_GUARDRAIL_MIN_ERROR_RATE).' },
  guardrailMinErrorRate: { env: 'INFERQ_GUARDRAIL_MIN_ERROR_RATE', default: '0.01', doc: 'Default guardrail: error rates at or below this never roll a canary back (so one error against a spotless stable does not).' },
  predictionLog: { env: 'INFERQ_PREDICTION_LOG', default: 'true', doc: 'Log every finished prediction (jobs, batch rows, shadow runs) to a Redis stream per model, in the same script call as its result; see docs/predictions.md.' },
  predictionLogMaxLen: { env: 'INFERQ_PREDICTION_LOG_MAX_LEN', default: '1000000', doc: 'Entries each model\'s prediction log keeps at most (trimmed approximately).' },
  predictionLogRetentionSeconds: { env: 'INFERQ_PREDICTION_LOG_RETENTION_SECONDS', default: '86400', doc: 'How long a logged prediction is kept, and labels are accepted for it.' },
  predictionLogDir: { env: 'INFERQ_PREDICTION_LOG_DIR', default: '', doc: 'When set, this API process also writes the prediction log as NDJSON files, one per model and hour (and a new part past INFERQ_PREDICTION_LOG_FILE_MAX_BYTES). Set it on one process only.' },
  predictionLogFileMaxBytes: { env: 'INFERQ_PREDICTION_LOG_FILE_MAX_BYTES', default: '134217728', doc: 'Size at which the file sink starts a new part of the hour\'s file.' },
  qualityWindow: { env: 'INFERQ_QUALITY_WINDOW', default: '10000', doc: 'Labelled predictions per version that quality (accuracy, precision, recall, log loss, calibration) is measured over.' },
  driftReferenceSize: { env: 'INFERQ_DRIFT_REFERENCE_SIZE', default: '1000', doc: 'A version\'s first predictions kept as its drift reference (unless its directory has a reference.json); 0: no drift.' },
  driftWindow: { env: 'INFERQ_DRIFT_WINDOW', default: '1000', doc: 'A version\'s latest predictions each feature\'s drift (PSI) is measured on.' },
  driftPsiThreshold: { env: 'INFERQ_DRIFT_PSI_THRESHOLD', default: '0.2', doc: 'PSI above which a feature is reported as drifted.' },
  guardrailMinLabelled: { env: 'INFERQ_GUARDRAIL_MIN_LABELLED', default: '200', doc: 'Default guardrail: labelled predictions each of canary and stable needs (since the policy changed) before their quality is compared.' },
  logLevel: { env: 'LOG_LEVEL', default: 'info', doc: 'pino log level: fatal, error, warn, info, debug, trace or silent.' },
  logPretty: { env: 'INFERQ_LOG_PRETTY', default: 'false', doc: 'Human-readable logs instead of JSON lines (development).' },
} as const;

/** The demo model repository that ships with inferq, independent of the working directory. */
export const BUNDLED_MODEL_DIR = fileURLToPath(new URL('../../../models', import.meta.url));
/** Where `npm start` keeps its local state unless INFERQ_DATA_DIR says otherwise. */
export const CHECKOUT_DATA_DIR = fileURLToPath(new URL('../../../.inferq', import.meta.url));

export type ConfigKey = keyof typeof CONFIG_SPEC;
export type ConfigOptions = Partial<Record<ConfigKey, string | number | boolean>>;

const intIn = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const csv = z.string().transform((s) => s.split(',').map((p) => p.trim()).filter((p) => p.length > 0));
const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

/** `address/bits`, IPv4 or IPv6 (node:net, so core needs no address library). */
function isCidr(text: string): boolean {
  const [address = '', bits, ...rest] = text.split('/');
  const family = net.isIP(address);
  if (!family || bits === undefined || rest.length > 0 || !/^\d{1,3}$/.test(bits)) return false;
  return Number(bits) <= (family === 4 ? 32 : 128);
}

/**
 * Built by each loadConfig call, not kept: a process parses its configuration once, and the
 * schema's ~70 zod schemas (about 1 MB of heap) would otherwise stay for the process's lifetime.
 */
const configSchema = () => z.object({
  port: intIn(0, 65535),
  host: z.string().min(1),
  redisUrl: z.string().refine((url) => parseRedisTarget(url) !== undefined, 'must be redis://, rediss://, or redis-cluster://host:port,host:port (rediss-cluster:// for TLS)'),
  redisClusterNodes: z.string().refine((nodes) => nodes === '' || parseRedisTarget(`redis-cluster://${nodes}`) !== undefined, 'must be host:port,host:port'),
  queuePrefix: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, _, . and - only (inferq hash-tags its keys by model: braces in the prefix would put every key on one cluster slot)'),
  modelDir: z.string(),
  dataDir: z.string(),
  models: csv,
  resultTtlSeconds: intIn(1, 31_536_000),
  maxResultTtlSeconds: intIn(1, 31_536_000),
  idempotencyTtlSeconds: intIn(1, 31_536_000),
  maxBodyBytes: intIn(1024, 1_073_741_824),
  maxBatchBytes: intIn(1024, 1_099_511_627_776),
  batchChunkRows: intIn(1, 100_000),
  schedulesFile: z.string(),
  maxJobsPerBulk: intIn(1, 100_000),
  bundleMaxBytes: intIn(1024, 64 * 1024 * 1024),
  maxInFlightRequests: intIn(0, 10_000_000),
  requestTimeoutMs: intIn(100, 3_600_000),
  maxRowsPerJob: intIn(1, 1_000_000),
  maxImagePixels: intIn(1, 1_000_000_000),
  maxImageWidth: intIn(8, 65536),
  maxLongPollSeconds: intIn(0, 3600),
  maxHeldLongPolls: intIn(0, 1_000_000),
  maxHeldEventStreams: intIn(0, 1_000_000),
  eventHeartbeatMs: intIn(100, 3_600_000),
  jobAttempts: intIn(1, 100),
  lockDurationMs: intIn(500, 3_600_000),
  stalledIntervalMs: intIn(500, 3_600_000),
  inferenceThreads: intIn(1, 256),
  intraOpThreads: intIn(0, 256),
  intraOpSpinning: bool,
  intraOpDynamicBlockBase: intIn(0, 64),
  inferenceNice: intIn(0, 19),
  imageThreads: intIn(0, 64),
  executionProviders: csv.pipe(z.array(z.enum(['cpu', 'cuda', 'dml', 'coreml', 'webgpu'])).min(1)),
  batchConcurrencyFactor: intIn(1, 64),
  shutdownTimeoutMs: intIn(0, 3_600_000),
  workerHealthPort: intIn(0, 65535),
  metricsCacheMs: intIn(0, 60_000),
  webhookSecrets: z
    .string()
    .transform((s) => s.split(/[\s,]+/).filter((p) => p.length > 0))
    .pipe(z.array(z.string().regex(/^whsec_[A-Za-z0-9+/]{16,}={0,2}$/, 'each secret must be whsec_ followed by base64'))),
  webhookTimeoutMs: intIn(100, 300_000),
  webhookRetrySchedule: csv.pipe(z.array(z.coerce.number<string>().min(0).max(604_800)).min(1).max(50)),
  webhookAllowCidrs: csv.pipe(z.array(z.string().refine(isCidr, 'not a CIDR such as 10.0.0.0/8 or fd00::/8'))),
  webhookConcurrency: intIn(1, 1024),
  apiKeys: csv,
  apiKeysFile: z.string(),
  adminKeys: csv,
  rateLimitPerSecond: z.coerce.number().min(0).max(1_000_000),
  rateLimitBurst: intIn(0, 10_000_000),
  maxQueueDepth: intIn(1, 100_000_000),
  modelRescanMs: intIn(0, 86_400_000),
  routingRefreshMs: intIn(100, 3_600_000),
  healthWindowSeconds: intIn(1, 86_400),
  guardrailIntervalMs: intIn(0, 3_600_000),
  guardrailMinSamples: intIn(1, 10_000_000),
  guardrailMaxP95DeltaMs: z.coerce.number().min(0).max(3_600_000),
  guardrailMaxErrorRatio: z.coerce.number().min(1).max(1_000_000),
  guardrailMinErrorRate: z.coerce.number().min(0).max(1),
  predictionLog: bool,
  predictionLogMaxLen: intIn(1000, 1_000_000_000),
  predictionLogRetentionSeconds: intIn(60, 31_536_000),
  predictionLogDir: z.string(),
  predictionLogFileMaxBytes: intIn(1024, 1_099_511_627_776),
  qualityWindow: intIn(10, 10_000_000),
  driftReferenceSize: intIn(0, 1_000_000),
  driftWindow: intIn(10, 1_000_000),
  driftPsiThreshold: z.coerce.number().min(0).max(100),
  guardrailMinLabelled: intIn(1, 10_000_000),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  logPretty: bool,
});

export type Config = z.infer<ReturnType<typeof configSchema>> & {
  /** intraOpThreads with 0 resolved against this machine's cores. */
  resolvedIntraOpThreads: number;
  /** imageThreads with 0 resolved against this machine's cores. */
  resolvedImageThreads: number;
};

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

export function loadConfig(options: ConfigOptions = {}, env: NodeJS.ProcessEnv = process.env): Config {
  const raw: Record<string, string> = {};
  for (const [key, spec] of Object.entries(CONFIG_SPEC) as [ConfigKey, (typeof CONFIG_SPEC)[ConfigKey]][]) {
    const option = options[key];
    raw[key] = option !== undefined ? String(option) : (env[spec.env] ?? spec.default);
  }
  // Parsed once: zod's compiled fast path would cost more to build (and keep) than it saves.
  const parsed = configSchema().safeParse(raw, { jitless: true });
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        const key = String(issue.path[0]) as ConfigKey;
        const spec = CONFIG_SPEC[key];
        return `${spec ? spec.env : key}=${JSON.stringify(raw[key])}: ${issue.message}`;
      }),
    );
  }
  const config = parsed.data;
  if (config.resultTtlSeconds > config.maxResultTtlSeconds) {
    throw new ConfigError([`INFERQ_RESULT_TTL_SECONDS (${config.resultTtlSeconds}) exceeds INFERQ_MAX_RESULT_TTL_SECONDS (${config.maxResultTtlSeconds})`]);
  }
  const cores = os.availableParallelism();
  return {
    ...config,
    redisUrl: config.redisClusterNodes ? `redis-cluster://${config.redisClusterNodes}` : config.redisUrl,
    modelDir: config.modelDir ? path.resolve(config.modelDir) : BUNDLED_MODEL_DIR,
    dataDir: config.dataDir ? path.resolve(config.dataDir) : CHECKOUT_DATA_DIR,
    // Every core: the inference threads' lower priority (inferenceNice), not a core left idle,
    // keeps the event loop responsive. bench/thread-policy.ts measures the choice.
    resolvedIntraOpThreads: config.intraOpThreads || Math.max(1, Math.floor(cores / config.inferenceThreads)),
    resolvedImageThreads: config.imageThreads || Math.min(4, Math.max(1, Math.floor(cores / 2))),
  };
}

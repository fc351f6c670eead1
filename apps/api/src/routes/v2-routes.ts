import { readFileSync } from 'node:fs';
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { InferqError } from '@inferq/core/errors';
import type { Redis } from '@inferq/core/redis-connection';
import type { AppEnv } from '../app-env.ts';
import { jsonBody } from '../middleware/json-body.ts';
import type { RoutingService } from '../routing/routing-service.ts';
import type { JobService } from '../services/job-service.ts';
import { isFinished } from '../services/job-view.ts';
import type { ModelCatalog } from '../services/model-catalog.ts';
import { modelMetadata, toInferenceResponse, toJobRequest, v2InferenceRequestSchema, type V2InferenceRequest } from '../services/v2-protocol.ts';

export interface V2RoutesOptions {
  redis: Redis;
  catalog: ModelCatalog;
  routing: RoutingService;
  jobs: JobService;
  maxBodyBytes: number;
  /** How long an inference request is held for its result (INFERQ_REQUEST_TIMEOUT_MS). */
  inferTimeoutMs: number;
}

const SERVER_VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** Versions that passed their checks (the ones a request may name). */
function availableVersions(catalog: ModelCatalog, name: string): string[] {
  return catalog
    .get(name)
    .versions.filter((v) => v.state === 'available')
    .map((v) => v.version);
}

/** The version a path names (404 when the model has no such version), or the one routing would pick. */
function versionFor(options: V2RoutesOptions, name: string, version: string | undefined) {
  const model = options.catalog.get(name);
  if (version === undefined) return { model, entry: options.routing.batchVersion(name, undefined) };
  const entry = model.versions.find((v) => v.version === version);
  if (!entry) {
    throw new InferqError('MODEL_VERSION_NOT_FOUND', `model ${name} has no version ${version}`, { details: { model: name, version, versions: model.versions.map((v) => v.version) } });
  }
  return { model, entry };
}

/**
 * The KServe V2 / Open Inference Protocol REST routes (spec: inference_rest.md of
 * kserve/open-inference-protocol). Health probes are open like /healthz; the rest take an API key
 * like /v1. Inference is answered synchronously, through the queue like every job (so it batches
 * with everything else). Errors are `{"error": "<message>"}` (the app's error handler).
 */
export function v2Routes(options: V2RoutesOptions) {
  const { catalog, jobs } = options;

  const metadata = (c: Context<AppEnv>) => {
    const name = c.req.param('name') as string;
    const version = c.req.param('version');
    const { model, entry } = versionFor(options, name, version);
    return c.json(modelMetadata(model, entry, version === undefined ? availableVersions(catalog, name) : [entry.version]), 200);
  };

  const modelReady = async (c: Context<AppEnv>) => {
    const name = c.req.param('name') as string;
    const version = c.req.param('version');
    if (version !== undefined) versionFor(options, name, version);
    else catalog.get(name);
    const ready = await catalog.readyVersions(name);
    const isReady = version === undefined ? ready.size > 0 : ready.has(version);
    if (!isReady) c.header('Retry-After', '2');
    return c.json({ name, ready: isReady }, isReady ? 200 : 503);
  };

  // The binary tensor extension sends a JSON header and raw tensors in one body: refused before parsing.
  const refuseBinary: MiddlewareHandler<AppEnv> = async (c, next) => {
    if (c.req.header('inference-header-content-length') !== undefined) {
      throw new InferqError('INVALID_REQUEST', 'the binary tensor data extension (Inference-Header-Content-Length) is not supported: send a JSON body');
    }
    await next();
  };

  const infer = async (c: Context<AppEnv & { Variables: { body: V2InferenceRequest } }>) => {
    const name = c.req.param('name') as string;
    const version = c.req.param('version');
    const model = catalog.get(name);
    if (version !== undefined) versionFor(options, name, version);
    const request = c.get('body');
    const { job, outputs } = toJobRequest(model, version, request);
    const tenant = c.get('principal').tenant;
    const { job: submitted, view, declined } = await jobs.submitAndWait(job, undefined, c.get('requestId'), tenant, options.inferTimeoutMs, c.req.raw.signal);
    if (view && isFinished(view)) return c.json(toInferenceResponse(view, request, outputs), 200);
    const details = { job_id: submitted.job_id, poll_url: `/v1/jobs/${encodeURIComponent(submitted.job_id)}` };
    if (declined) {
      throw new InferqError('WAIT_NOT_HELD', `this API process holds as many waiting requests as it may (INFERQ_MAX_HELD_LONG_POLLS); the inference goes on as job ${submitted.job_id}`, { details, retryAfterSeconds: 5 });
    }
    throw new InferqError('REQUEST_TIMEOUT', `the inference did not finish within ${options.inferTimeoutMs} ms (INFERQ_REQUEST_TIMEOUT_MS); it goes on as job ${submitted.job_id}`, { details, retryAfterSeconds: 1 });
  };
  const inferBody = jsonBody({ maxBytes: options.maxBodyBytes, schema: v2InferenceRequestSchema });

  return new Hono<AppEnv & { Variables: { body: V2InferenceRequest } }>()
    .get('/health/live', (c) => c.json({ live: true }, 200))
    .get('/health/ready', async (c) => {
      const redisOk = await options.redis.ping().then(() => true, () => false);
      const names = catalog.names();
      const ready = redisOk && names.length > 0 && (await Promise.all(names.map(async (n) => (await catalog.readyVersions(n)).size > 0))).every(Boolean);
      if (!ready) c.header('Retry-After', '2');
      return c.json({ ready }, ready ? 200 : 503);
    })
    .get('/', (c) => c.json({ name: 'inferq', version: SERVER_VERSION, extensions: [] }, 200))
    .get('/models/:name', metadata)
    .get('/models/:name/versions/:version', metadata)
    .get('/models/:name/ready', modelReady)
    .get('/models/:name/versions/:version/ready', modelReady)
    .post('/models/:name/infer', refuseBinary, inferBody, infer)
    .post('/models/:name/versions/:version/infer', refuseBinary, inferBody, infer);
}

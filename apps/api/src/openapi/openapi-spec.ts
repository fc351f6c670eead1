import { z } from 'zod';
import { scheduleSchema } from '@inferq/batch/schedule';
import { ERROR_CATALOGUE } from '@inferq/core/errors';
import { jsonSchema as batchJsonSchema, querySchema as batchQuerySchema } from '../routes/batches-routes.ts';
import { imageUploadQuerySchema, jobRequestSchema } from '../services/job-request-schema.ts';
import { v2InferenceRequestSchema } from '../services/v2-protocol.ts';
import { exportQuerySchema, labelRowSchema } from '../routes/predictions-routes.ts';
import { routingPolicySchema } from '@inferq/routing/routing-policy';
import { REQUEST_EXAMPLES, type RequestExample } from './request-examples.ts';
import {
  batchSchema,
  bulkJobsSchema,
  deliveriesSchema,
  deliverySchema,
  errorEnvelopeSchema,
  healthSchema,
  jobSchema,
  labelResultSchema,
  labelResultsSchema,
  modelListSchema,
  modelSchema,
  readinessSchema,
  rescanSchema,
  routingStatusSchema,
  unloadSchema,
  v2ErrorSchema,
  v2InferenceResponseSchema,
  v2LiveSchema,
  v2ModelMetadataSchema,
  v2ModelReadySchema,
  v2ServerMetadataSchema,
  v2ServerReadySchema,
  scheduleListSchema,
  scheduleViewSchema,
  submittedJobSchema,
} from './response-schemas.ts';

/**
 * The OpenAPI 3.1 document of the HTTP API. Request bodies and query strings come from the very
 * zod schemas the routes validate with (z.toJSONSchema, JSON Schema 2020-12, which OpenAPI 3.1
 * uses as is), so the document cannot drift from what the API accepts. A test checks that every
 * route the app registers is described here, and `redocly lint` checks the document.
 */

export interface OpenApiOptions {
  /** The limits the request schemas are built with (INFERQ_MAX_RESULT_TTL_SECONDS, ...). */
  maxTtlSeconds: number;
  maxLongPollSeconds: number;
  version?: string;
}

type JsonSchema = Record<string, unknown>;
type Operation = Record<string, unknown>;

/** JSON Schema of what a zod schema accepts (`io: 'input'`: before transforms and defaults). */
function inputSchema(schema: z.ZodType): JsonSchema {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' }) as JsonSchema;
  return rest;
}

function outputSchema(schema: z.ZodType): JsonSchema {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'output', unrepresentable: 'any' }) as JsonSchema;
  return rest;
}

/** Query parameters from an object schema: one parameter per property. */
function queryParameters(schema: z.ZodType, descriptions: Record<string, string> = {}): JsonSchema[] {
  const json = inputSchema(schema) as { properties?: Record<string, JsonSchema>; required?: string[] };
  return Object.entries(json.properties ?? {}).map(([name, property]) => ({
    name,
    in: 'query',
    required: (json.required ?? []).includes(name),
    ...(descriptions[name] ? { description: descriptions[name] } : {}),
    schema: property,
  }));
}

const ref = (kind: 'schemas' | 'responses' | 'parameters' | 'headers', name: string) => ({ $ref: `#/components/${kind}/${name}` });

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad request',
  401: 'No valid API key',
  403: 'The key lacks the scope',
  404: 'Not found',
  409: 'Conflict with the current state',
  413: 'Too large',
  415: 'Unsupported media type',
  422: 'Unprocessable input',
  429: 'Too many requests',
  500: 'Internal error',
  503: 'Unavailable, retry',
  504: 'Deadline exceeded',
};

/** Error statuses, each with the catalogue's codes that answer with it (so new codes show up by themselves). */
function errorStatuses(): Map<number, string[]> {
  const byStatus = new Map<number, string[]>();
  for (const [code, entry] of Object.entries(ERROR_CATALOGUE)) byStatus.set(entry.status, [...(byStatus.get(entry.status) ?? []), code]);
  return byStatus;
}

const JSON_TYPE = 'application/json';
const json = (schema: JsonSchema, examples?: Record<string, RequestExample>) => ({ [JSON_TYPE]: { schema, ...(examples ? { examples } : {}) } });
const requestIdHeader = { 'x-request-id': ref('headers', 'RequestId') };

function ok(description: string, content?: Record<string, unknown>, headers: Record<string, unknown> = {}) {
  return { description, headers: { ...requestIdHeader, ...headers }, ...(content ? { content } : {}) };
}

export function buildOpenApiDocument(options: OpenApiOptions) {
  const statuses = errorStatuses();
  const has = (status: number) => statuses.has(status);
  /** An operation's error responses: the statuses it names that the catalogue has, plus 500. */
  const errors = (...codes: number[]) => Object.fromEntries([...new Set([...codes, 500])].filter(has).sort().map((s) => [String(s), ref('responses', `Error${s}`)]));
  /** Every /v1 route may answer 401 (no key), 429 (tenant rate) and 503 (Redis). */
  const v1Errors = (...codes: number[]) => errors(401, 429, 503, ...codes);
  const adminErrors = (...codes: number[]) => v1Errors(403, ...codes);

  const jobId = { name: 'id', in: 'path', required: true, description: 'The job id (`<model>.<ULID>…`).', schema: { type: 'string' } };
  const batchId = { name: 'id', in: 'path', required: true, description: 'The batch id.', schema: { type: 'string' } };
  const scheduleName = { name: 'name', in: 'path', required: true, description: 'Schedule name: 1-64 letters, digits, ., _ and -.', schema: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$' } };
  const modelName = { name: 'name', in: 'path', required: true, description: 'Model name.', schema: { type: 'string' } };
  const wait = {
    name: 'wait',
    in: 'query',
    required: false,
    description: `Long-poll: hold the request until the job or batch ends, or this many seconds pass (capped at ${options.maxLongPollSeconds}).`,
    schema: { type: 'number', minimum: 0 },
  };
  const retryAfter = { 'Retry-After': ref('headers', 'RetryAfter') };
  const location = { Location: { description: 'The poll URL.', schema: { type: 'string' } } };
  const imageQuery = queryParameters(imageUploadQuerySchema(options.maxTtlSeconds), { model: 'Model to run (raw image uploads carry their options in the query string).' });
  const batchQuery = queryParameters(batchQuerySchema(options.maxTtlSeconds), {
    model: 'Model to score the rows with (NDJSON and CSV uploads).',
    webhook_url: 'Announce batch.progress and batch.completed to this URL.',
    webhook_events: 'Comma-separated event types for webhook_url.',
  });
  // The query form is only read for raw uploads; JSON bodies carry the same options inside.
  const optionalQuery = (params: JsonSchema[]) => params.map((p) => ({ ...p, required: false }));

  const lastEventId = {
    name: 'Last-Event-ID',
    in: 'header',
    required: false,
    description: 'Resume after this event: only later events are sent (204 when the client has already seen the final one).',
    schema: { type: 'string', pattern: '^[0-9]+$' },
  };
  const eventStream = (description: string) => ({ 'text/event-stream': { schema: { type: 'string', description } } });
  const pub = { security: [] as unknown[] };

  // KServe V2: errors are {"error": "<message>"}; 415 and 422 answer 400, as the protocol says.
  const v2Error = (description: string) => ({ description, headers: { ...requestIdHeader, 'inferq-error-code': { description: 'The stable error code (docs/errors.md).', schema: { type: 'string' } } }, content: json(ref('schemas', 'V2Error')) });
  const v2Errors = (...codes: number[]) =>
    Object.fromEntries([...new Set([401, 429, 500, 503, ...codes])].sort().map((s) => [String(s), v2Error(`${STATUS_TEXT[s] ?? 'Error'} (V2 error body).`)]));
  const v2Version = { name: 'version', in: 'path', required: true, description: 'Model version.', schema: { type: 'string' } };
  const v2Model = (versioned: boolean) => (versioned ? [modelName, v2Version] : [modelName]);
  const v2Paths = (base: string, versioned: boolean): Record<string, Record<string, Operation>> => {
    const suffix = versioned ? 'Version' : '';
    const which = versioned ? 'this version' : 'the model (the version routing would pick)';
    return {
      [base]: {
        get: {
          operationId: `v2ModelMetadata${suffix}`,
          tags: ['kserve-v2'],
          summary: `V2 model metadata of ${which}`,
          description: 'Name, the versions that may be asked for, platform (`onnx_onnxv1`), and the inputs and outputs with name, datatype and shape (-1: any size).',
          parameters: v2Model(versioned),
          responses: { '200': ok('The model metadata.', json(ref('schemas', 'V2ModelMetadata'))), ...v2Errors(404) },
        },
      },
      [`${base}/ready`]: {
        get: {
          operationId: `v2ModelReady${suffix}`,
          tags: ['kserve-v2'],
          summary: `V2 model readiness of ${which}: a live worker has it loaded`,
          parameters: v2Model(versioned),
          responses: { '200': ok('Ready.', json(ref('schemas', 'V2ModelReady'))), ...v2Errors(404), '503': ok('Not ready (no live worker has it loaded).', json(ref('schemas', 'V2ModelReady')), retryAfter) },
        },
      },
      [`${base}/infer`]: {
        post: {
          operationId: `v2Infer${suffix}`,
          tags: ['kserve-v2'],
          summary: `V2 inference on ${which}, answered synchronously`,
          description:
            'Queued as an inferq job (so it is batched with everything else) and held until it ends, for at most INFERQ_REQUEST_TIMEOUT_MS. `id` comes back; `outputs` names the outputs to return (all when absent). Request parameters read: `priority` (1-9), `routing_key`; others are ignored. Binary tensor data is not supported: `binary_data: true`, `binary_data_output: true` or a binary body is refused with 400.',
          parameters: v2Model(versioned),
          requestBody: { required: true, content: json(ref('schemas', 'V2InferenceRequest'), REQUEST_EXAMPLES.v2Infer) },
          responses: { '200': ok('The inference response.', json(ref('schemas', 'V2InferenceResponse'))), ...v2Errors(400, 404, 409, 413) },
        },
      },
    };
  };

  const paths: Record<string, Record<string, Operation>> = {
    '/v2': {
      get: {
        operationId: 'v2ServerMetadata',
        tags: ['kserve-v2'],
        summary: 'V2 server metadata',
        responses: { '200': ok('Name, version and extensions (none).', json(ref('schemas', 'V2ServerMetadata'))), ...v2Errors() },
      },
    },
    '/v2/health/live': {
      get: { operationId: 'v2ServerLive', tags: ['kserve-v2'], summary: 'V2 server liveness', ...pub, responses: { '200': ok('Live.', json(ref('schemas', 'V2Live'))) } },
    },
    '/v2/health/ready': {
      get: {
        operationId: 'v2ServerReady',
        tags: ['kserve-v2'],
        summary: 'V2 server readiness: Redis answers and every model has a version a live worker has loaded',
        ...pub,
        responses: { '200': ok('Ready.', json(ref('schemas', 'V2ServerReady'))), '503': ok('Not ready.', json(ref('schemas', 'V2ServerReady')), retryAfter) },
      },
    },
    ...v2Paths('/v2/models/{name}', false),
    ...v2Paths('/v2/models/{name}/versions/{version}', true),
    '/v1/jobs': {
      post: {
        operationId: 'submitJob',
        tags: ['jobs'],
        summary: 'Submit an inference job',
        description:
          'Validates the input against the model\'s manifest and queues it: 202 at once with a poll URL. Send JSON (V2 tensors, named features, or a base64 image), or a raw `image/png`, `image/jpeg` or `image/webp` body with the options in the query string. With `Prefer: wait=N` the call holds up to N seconds (at most INFERQ_MAX_LONG_POLL_SECONDS) and answers 200 with the finished job, or 202 as usual if it has not finished by then.',
        parameters: [
          { name: 'Idempotency-Key', in: 'header', required: false, description: 'The same key and body give the same job; the same key with another body is 422.', schema: { type: 'string', minLength: 1, maxLength: 255 } },
          { name: 'Prefer', in: 'header', required: false, description: 'RFC 7240. `wait=N`: hold the call until the job ends, for at most N seconds; answered with `Preference-Applied: wait=N`.', schema: { type: 'string', examples: ['wait=10'] } },
          ...optionalQuery(imageQuery),
        ],
        requestBody: {
          required: true,
          content: {
            ...json(ref('schemas', 'JobRequest'), REQUEST_EXAMPLES.job),
            'image/png': { schema: { type: 'string', contentMediaType: 'image/png' } },
            'image/jpeg': { schema: { type: 'string', contentMediaType: 'image/jpeg' } },
            'image/webp': { schema: { type: 'string', contentMediaType: 'image/webp' } },
          },
        },
        responses: {
          '200': ok('With `Prefer: wait=N`: the job finished within the wait, with its result or error.', json(ref('schemas', 'Job')), location),
          '202': ok('Queued (or, with `Prefer: wait=N`, not finished yet: poll it, after Retry-After).', json(ref('schemas', 'SubmittedJob')), {
            ...location,
            'Idempotent-Replayed': { description: '`true` when an Idempotency-Key replay returned the original job.', schema: { type: 'string', enum: ['true'] } },
          }),
          ...v1Errors(400, 404, 409, 413, 415, 422),
        },
      },
    },
    '/v1/jobs/bulk': {
      post: {
        operationId: 'submitJobs',
        tags: ['jobs'],
        summary: 'Submit many jobs in one call',
        description:
          'Each job is validated like a single submit and fails alone: the answer lists, in request order, each job (with its poll URL) or its error. At most INFERQ_MAX_JOBS_PER_BULK jobs per call.',
        requestBody: { required: true, content: json(ref('schemas', 'BulkJobRequest'), REQUEST_EXAMPLES.bulk) },
        responses: { '202': ok('Every valid job is queued.', json(ref('schemas', 'BulkJobs'))), ...v1Errors(400, 413, 415) },
      },
    },
    '/v1/jobs/{id}': {
      get: {
        operationId: 'getJob',
        tags: ['jobs'],
        summary: 'Read a job, or long-poll until it ends',
        parameters: [jobId, wait],
        responses: { '200': ok('The job: pending (with Retry-After), or finished with its result or error.', json(ref('schemas', 'Job')), retryAfter), ...v1Errors(400, 404) },
      },
      delete: {
        operationId: 'cancelJob',
        tags: ['jobs'],
        summary: 'Cancel a queued or running job (its result, if it finishes later, is discarded)',
        parameters: [jobId],
        responses: { '200': ok('Canceled.', json(ref('schemas', 'Job'))), ...v1Errors(404, 409) },
      },
    },
    '/v1/jobs/{id}/events': {
      get: {
        operationId: 'streamJobEvents',
        tags: ['jobs'],
        summary: "A job's state changes as Server-Sent Events",
        description:
          'The state at once, then each change until the final one: `event: queued` (`id: 1`), `running` (2), then `succeeded`, `failed` or `canceled` (3), each with the job as `GET /v1/jobs/{id}` returns it (a `Job`) as its `data`. Comment lines (`: heartbeat`) keep a quiet stream open. At most INFERQ_MAX_HELD_EVENT_STREAMS streams per API process: past it, 503 EVENT_STREAMS_FULL with Retry-After.',
        parameters: [jobId, lastEventId],
        responses: {
          '200': ok('The event stream; it ends after the final state.', eventStream('Server-Sent Events whose data is a Job.')),
          '204': ok('The client has already seen the final event: nothing more will come.'),
          ...v1Errors(404),
        },
      },
    },
    '/v1/jobs/{id}/deliveries': {
      get: {
        operationId: 'listJobDeliveries',
        tags: ['webhooks'],
        summary: "A job's webhook deliveries and their attempts",
        parameters: [jobId],
        responses: { '200': ok('The delivery log.', json(ref('schemas', 'Deliveries'))), ...v1Errors(404) },
      },
    },
    '/v1/jobs/{id}/deliveries/redeliver': {
      post: {
        operationId: 'redeliverJobEvent',
        tags: ['webhooks'],
        summary: "Deliver a finished job's final event again",
        parameters: [jobId],
        responses: { '202': ok('A fresh delivery (new webhook-id) is queued.', json(ref('schemas', 'Delivery'))), ...v1Errors(404, 409) },
      },
    },
    '/v1/batches': {
      post: {
        operationId: 'submitBatch',
        tags: ['batches'],
        summary: 'Submit a batch scoring job',
        description:
          'Rows as `application/x-ndjson` (one `{"features": {...}}` or `{"inputs": [...]}` per line) or `text/csv` (header row = feature names), streamed, with the options in the query string; or `application/json` `{model, rows: [...]}`. 202 once every row is queued.',
        parameters: optionalQuery(batchQuery),
        requestBody: {
          required: true,
          content: {
            ...json(ref('schemas', 'BatchRequest'), REQUEST_EXAMPLES.batchJson),
            'application/x-ndjson': { schema: { type: 'string' }, examples: REQUEST_EXAMPLES.batchNdjson },
            'text/csv': { schema: { type: 'string' }, examples: REQUEST_EXAMPLES.batchCsv },
          },
        },
        responses: { '202': ok('Every row is queued.', json(ref('schemas', 'Batch')), location), ...v1Errors(400, 404, 409, 413, 415, 422) },
      },
    },
    '/v1/batches/{id}': {
      get: {
        operationId: 'getBatch',
        tags: ['batches'],
        summary: "A batch's progress, or long-poll until it ends",
        parameters: [batchId, wait],
        responses: { '200': ok('The batch.', json(ref('schemas', 'Batch')), retryAfter), ...v1Errors(400, 404) },
      },
      delete: {
        operationId: 'cancelBatch',
        tags: ['batches'],
        summary: 'Cancel the chunks no worker has started',
        parameters: [batchId],
        responses: { '200': ok('Canceling: the rows not started report CANCELED.', json(ref('schemas', 'Batch'))), ...v1Errors(404, 409) },
      },
    },
    '/v1/batches/{id}/events': {
      get: {
        operationId: 'streamBatchEvents',
        tags: ['batches'],
        summary: "A batch's progress as Server-Sent Events",
        description:
          'The state at once, then `event: progress` whenever the batch moves, then `succeeded`, `failed` or `canceled` at its end, each with the batch as `GET /v1/batches/{id}` returns it (a `Batch`: status, counts, percent) as its `data`. Event ids grow with the rows done, so a resumed stream sends the current state only if it is newer.',
        parameters: [batchId, lastEventId],
        responses: {
          '200': ok('The event stream; it ends after the final state.', eventStream('Server-Sent Events whose data is a Batch.')),
          '204': ok('The client has already seen the final event: nothing more will come.'),
          ...v1Errors(404),
        },
      },
    },
    '/v1/batches/{id}/results': {
      get: {
        operationId: 'getBatchResults',
        tags: ['batches'],
        summary: "A finished batch's results, in input order",
        parameters: [batchId],
        responses: {
          '200': ok('NDJSON, one line per input row: `{"row": n, "id"?, "result": {...}}` or `{"row": n, "id"?, "error": {code, message}}`.', {
            'application/x-ndjson': { schema: { type: 'string' } },
          }),
          ...v1Errors(404, 409),
        },
      },
    },
    '/v1/predictions': {
      get: {
        operationId: 'exportPredictions',
        tags: ['predictions'],
        summary: "Export a model's prediction log, labels joined",
        description:
          'One page, oldest first: NDJSON (one logged prediction per line, fields in docs/predictions.md), or CSV with `Accept: text/csv`. `Inferq-Cursor` is the last entry read: pass it as `cursor` for the next page (or, later, for what was logged since). `Inferq-More: true` while more may follow. Only your own tenant\'s predictions; the admin scope sees every tenant\'s (or `tenant`\'s).',
        parameters: queryParameters(exportQuerySchema),
        responses: {
          '200': ok(
            'The page.',
            { 'application/x-ndjson': { schema: { type: 'string' } }, 'text/csv': { schema: { type: 'string' } } },
            { 'Inferq-Cursor': { description: 'The last entry read.', schema: { type: 'string' } }, 'Inferq-More': { description: 'Whether more may follow.', schema: { type: 'string', enum: ['true', 'false'] } } },
          ),
          ...v1Errors(400, 404),
        },
      },
    },
    '/v1/labels': {
      post: {
        operationId: 'postLabels',
        tags: ['predictions'],
        summary: 'Give logged predictions their true labels',
        description:
          'One label as `application/json` (errors answer with their status), or many as `application/x-ndjson` (200, each row stored, unchanged, or rejected alone with its code). A label is kept once: the same one again is a no-op, another is 409 LABEL_CONFLICT.',
        requestBody: { required: true, content: { ...json(ref('schemas', 'LabelRow'), REQUEST_EXAMPLES.label), 'application/x-ndjson': { schema: { type: 'string' }, examples: REQUEST_EXAMPLES.labelNdjson } } },
        responses: {
          '200': ok('The label (JSON), or every row\'s outcome (NDJSON).', json({ oneOf: [ref('schemas', 'LabelResult'), ref('schemas', 'LabelResults')] })),
          ...v1Errors(400, 404, 409, 413, 415, 422),
        },
      },
    },
    '/v1/schedules': {
      get: {
        operationId: 'listSchedules',
        tags: ['schedules'],
        summary: 'List batch schedules (admin scope)',
        responses: { '200': ok('Every schedule, with its next run.', json(ref('schemas', 'ScheduleList'))), ...adminErrors() },
      },
    },
    '/v1/schedules/{name}': {
      get: {
        operationId: 'getSchedule',
        tags: ['schedules'],
        summary: 'Read a batch schedule (admin scope)',
        parameters: [scheduleName],
        responses: { '200': ok('The schedule.', json(ref('schemas', 'Schedule'))), ...adminErrors(404) },
      },
      put: {
        operationId: 'putSchedule',
        tags: ['schedules'],
        summary: 'Create or replace a batch schedule (admin scope)',
        parameters: [scheduleName],
        requestBody: { required: true, content: json(ref('schemas', 'ScheduleRequest'), REQUEST_EXAMPLES.schedule) },
        responses: { '200': ok('The schedule as stored.', json(ref('schemas', 'Schedule'))), ...adminErrors(400, 404, 409, 413, 415) },
      },
      delete: {
        operationId: 'deleteSchedule',
        tags: ['schedules'],
        summary: 'Delete a batch schedule (admin scope)',
        parameters: [scheduleName],
        responses: { '204': ok('Deleted.'), ...adminErrors(404) },
      },
    },
    '/v1/models': {
      get: {
        operationId: 'listModels',
        tags: ['models'],
        summary: 'Models, versions, load state and routing',
        responses: { '200': ok('Every model in the repository.', json(ref('schemas', 'ModelList'))), ...v1Errors() },
      },
    },
    '/v1/models/{name}': {
      get: {
        operationId: 'getModel',
        tags: ['models'],
        summary: 'One model',
        parameters: [modelName],
        responses: { '200': ok('The model.', json(ref('schemas', 'Model'))), ...v1Errors(404) },
      },
    },
    '/v1/models/{name}/routing': {
      get: {
        operationId: 'getRouting',
        tags: ['models'],
        summary: "A model's routing policy and status (admin scope)",
        description: 'The policy in force, per-version health over the sliding window (requests, error rate, p50/p95 queue wait and inference), shadow comparisons (agreement rate, latencies) and events (rollbacks with their numbers).',
        parameters: [modelName],
        responses: { '200': ok('The routing status.', json(ref('schemas', 'RoutingStatus'))), ...adminErrors(404) },
      },
      put: {
        operationId: 'putRouting',
        tags: ['models'],
        summary: "Replace a model's routing policy (admin scope)",
        description: 'Weights per version (summing to 100), optional shadow and fallback versions, optional guardrails. Every version the policy sends traffic to must be loaded by a live worker. Every API process picks the change up at once (pub/sub).',
        parameters: [modelName],
        requestBody: { required: true, content: json(ref('schemas', 'RoutingPolicy'), REQUEST_EXAMPLES.routing) },
        responses: { '200': ok('The routing status under the new policy.', json(ref('schemas', 'RoutingStatus'))), ...adminErrors(400, 404, 409, 413, 415, 422) },
      },
    },
    '/v1/models/{name}/versions/{version}': {
      delete: {
        operationId: 'unloadVersion',
        tags: ['models'],
        summary: 'Unload a version, draining its queue first (admin scope)',
        description: 'No API process routes to the version or accepts jobs pinned to it from now on; each worker drops it once the queue holds none of its jobs. Refused (409 VERSION_IN_USE) while the routing policy still weights, shadows or falls back on it. An unloaded version stays unloaded: serve it again under a new version name.',
        parameters: [modelName, { name: 'version', in: 'path', required: true, description: 'Version name.', schema: { type: 'string' } }],
        responses: { '202': ok('Draining.', json(ref('schemas', 'Unload'))), ...adminErrors(404, 409) },
      },
    },
    '/v1/models/rescan': {
      post: {
        operationId: 'rescanModels',
        tags: ['models'],
        summary: 'Make every worker look for new versions now (admin scope)',
        description: 'Workers hot-load new version directories (sha256 check, warm-up) without a restart; the API learns each version once a worker has it ready.',
        responses: { '202': ok('Rescan requested.', json(ref('schemas', 'Rescan'))), ...adminErrors() },
      },
    },
    '/healthz': {
      get: { operationId: 'liveness', tags: ['operations'], summary: 'Liveness: the process answers', ...pub, responses: { '200': ok('Alive.', json(ref('schemas', 'Health'))) } },
    },
    '/readyz': {
      get: {
        operationId: 'readiness',
        tags: ['operations'],
        summary: 'Readiness: Redis answers and models are known',
        ...pub,
        responses: { '200': ok('Ready.', json(ref('schemas', 'Readiness'))), '503': ok('Not ready.', json(ref('schemas', 'Readiness')), retryAfter) },
      },
    },
    '/metrics': {
      get: {
        operationId: 'metrics',
        tags: ['operations'],
        summary: 'Prometheus metrics (see docs/metrics.md)',
        ...pub,
        responses: { '200': ok('Prometheus text exposition format 0.0.4.', { 'text/plain': { schema: { type: 'string' } } }) },
      },
    },
    '/openapi.json': {
      get: { operationId: 'openapi', tags: ['operations'], summary: 'This document', ...pub, responses: { '200': ok('OpenAPI 3.1.', json({ type: 'object' })) } },
    },
    '/docs': {
      get: { operationId: 'apiReference', tags: ['operations'], summary: 'API reference (Swagger UI, served locally)', ...pub, responses: { '200': ok('HTML page.', { 'text/html': { schema: { type: 'string' } } }) } },
    },
    '/docs/assets/{file}': {
      get: {
        operationId: 'apiReferenceAsset',
        tags: ['operations'],
        summary: "The API reference page's scripts and styles",
        ...pub,
        parameters: [{ name: 'file', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { '200': ok('The file.', { 'application/octet-stream': { schema: { type: 'string' } } }), ...errors(404) },
      },
    },
    '/admin/queues': {
      get: {
        operationId: 'queueDashboard',
        tags: ['operations'],
        summary: 'Queue dashboard (bull-board; admin scope)',
        description: 'Every model queue, the webhooks queue and the schedules queue. Its scripts and JSON API live under /admin/queues/ and need the same key.',
        responses: { '200': ok('HTML page.', { 'text/html': { schema: { type: 'string' } } }), ...errors(401, 403) },
      },
    },
  };

  // Only the statuses some operation answers with (codes such as DEADLINE_EXCEEDED live in a job's `error`).
  const used = new Set(Object.values(paths).flatMap((ops) => Object.values(ops).flatMap((op) => Object.keys(op.responses as object))));
  const errorResponses = Object.fromEntries(
    [...statuses].filter(([status]) => used.has(String(status))).map(([status, codes]) => [
      `Error${status}`,
      {
        description: `${STATUS_TEXT[status] ?? 'Error'}. Codes: ${codes.join(', ')}.`,
        headers: { ...requestIdHeader, ...(status === 503 || status === 429 ? retryAfter : {}) },
        content: json(ref('schemas', 'Error')),
      },
    ]),
  );

  return {
    openapi: '3.1.0',
    info: {
      title: 'inferq',
      version: options.version ?? '0.1.0',
      summary: 'Queue-backed asynchronous inference.',
      description:
        'Submit an inference job and get a job id and poll URL at once; workers batch and run it; poll, long-poll or get a signed webhook. Errors are `{"error": {"code", "message", "details"?}}` with a stable code (docs/errors.md). Every response carries `x-request-id`.',
      license: { name: 'MIT', identifier: 'MIT' },
    },
    servers: [{ url: '/', description: 'This API' }],
    security: [{ bearerAuth: [] }],
    tags: [
      { name: 'jobs', description: 'Submit, read, long-poll and cancel inference jobs.' },
      { name: 'batches', description: 'Batch scoring: a file of rows, scored in chunks, results in input order.' },
      { name: 'schedules', description: 'Cron schedules of batch scoring (admin scope).' },
      { name: 'webhooks', description: "A job's webhook delivery log, and redelivery." },
      { name: 'models', description: 'The model repository, and what live workers report.' },
      { name: 'kserve-v2', description: 'The KServe V2 / Open Inference Protocol (REST): health, metadata and synchronous inference, as Triton and KServe speak it.' },
      { name: 'predictions', description: 'The prediction log: export it, and label its predictions (docs/predictions.md).' },
      { name: 'operations', description: 'Health, metrics, this document and the queue dashboard.' },
    ],
    paths,
    components: {
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', description: 'An API key: `Authorization: Bearer <key>` (INFERQ_API_KEYS; admin routes need a key from INFERQ_ADMIN_KEYS).' },
      },
      headers: {
        RequestId: { description: "The request's id (yours, if you sent x-request-id).", schema: { type: 'string' } },
        RetryAfter: { description: 'Seconds to wait before asking again.', schema: { type: 'integer' } },
      },
      responses: errorResponses,
      schemas: {
        JobRequest: inputSchema(jobRequestSchema(options.maxTtlSeconds)),
        BulkJobRequest: inputSchema(z.strictObject({ jobs: z.array(jobRequestSchema(options.maxTtlSeconds)).min(1) })),
        BulkJobs: outputSchema(bulkJobsSchema),
        BatchRequest: inputSchema(batchJsonSchema(options.maxTtlSeconds)),
        ScheduleRequest: inputSchema(scheduleSchema),
        SubmittedJob: outputSchema(submittedJobSchema),
        Job: outputSchema(jobSchema),
        Delivery: outputSchema(deliverySchema),
        Deliveries: outputSchema(deliveriesSchema),
        Batch: outputSchema(batchSchema),
        Schedule: outputSchema(scheduleViewSchema),
        ScheduleList: outputSchema(scheduleListSchema),
        Model: outputSchema(modelSchema),
        RoutingPolicy: inputSchema(routingPolicySchema),
        RoutingStatus: outputSchema(routingStatusSchema),
        Rescan: outputSchema(rescanSchema),
        Unload: outputSchema(unloadSchema),
        ModelList: outputSchema(modelListSchema),
        Health: outputSchema(healthSchema),
        Readiness: outputSchema(readinessSchema),
        LabelRow: inputSchema(labelRowSchema),
        LabelResult: outputSchema(labelResultSchema),
        LabelResults: outputSchema(labelResultsSchema),
        Error: outputSchema(errorEnvelopeSchema),
        V2InferenceRequest: inputSchema(v2InferenceRequestSchema),
        V2InferenceResponse: outputSchema(v2InferenceResponseSchema),
        V2ModelMetadata: outputSchema(v2ModelMetadataSchema),
        V2ModelReady: outputSchema(v2ModelReadySchema),
        V2ServerMetadata: outputSchema(v2ServerMetadataSchema),
        V2ServerReady: outputSchema(v2ServerReadySchema),
        V2Live: outputSchema(v2LiveSchema),
        V2Error: outputSchema(v2ErrorSchema),
      },
    },
  };
}

export type OpenApiDocument = ReturnType<typeof buildOpenApiDocument>;

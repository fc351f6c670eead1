import { z } from 'zod';
import { BATCH_STATUSES } from '@inferq/batch/batch-record';
import { scheduleSchema } from '@inferq/batch/schedule';
import { ERROR_CATALOGUE } from '@inferq/core/errors';
import { JOB_STATUSES, ROUTED_BY } from '@inferq/core/job-types';
import { TENSOR_DATATYPES } from '@inferq/core/tensor';
import { WEBHOOK_EVENT_TYPES } from '@inferq/webhooks/events';

/**
 * The shapes the API answers with, for the OpenAPI document only (requests are described by the
 * zod schemas that validate them). Field comments live in README's HTTP API table.
 */

const timestamp = z.string().meta({ format: 'date-time' });

export const errorBodySchema = z.object({
  code: z.enum(Object.keys(ERROR_CATALOGUE) as [string, ...string[]]).meta({ description: 'Stable code to branch on; see docs/errors.md.' }),
  message: z.string().meta({ description: 'For people; may change.' }),
  details: z.record(z.string(), z.unknown()).optional(),
});

export const errorEnvelopeSchema = z.object({ error: errorBodySchema });

const v2Tensor = z.object({
  name: z.string(),
  datatype: z.enum(TENSOR_DATATYPES),
  shape: z.array(z.number().int()),
  data: z.array(z.unknown()),
});

export const submittedJobSchema = z.object({
  job_id: z.string(),
  status: z.literal('queued'),
  model: z.string(),
  model_version: z.string(),
  created_at: timestamp,
  routed_by: z.enum(ROUTED_BY).meta({ description: 'Why this version: pinned (the request named it), weight, sticky (routing_key) or fallback.' }),
  poll_url: z.string(),
});

export const bulkJobsSchema = z.object({
  jobs: z.array(z.union([submittedJobSchema, z.object({ error: errorBodySchema })])).meta({ description: 'One entry per requested job, in request order.' }),
});

export const jobSchema = z.object({
  job_id: z.string(),
  status: z.enum(JOB_STATUSES),
  model: z.string(),
  model_version: z.string(),
  created_at: timestamp,
  started_at: timestamp.nullable(),
  finished_at: timestamp.nullable(),
  timings: z
    .object({
      queue_ms: z.number(),
      inference_ms: z.number(),
      total_ms: z.number(),
      stages: z
        .array(z.object({ stage: z.string(), model: z.string(), version: z.string(), ms: z.number(), requests: z.number().int() }))
        .optional()
        .meta({ description: "A pipeline's stages, in order: the model each ran on, its requests, and how long it took (first queued to last answered)." }),
    })
    .nullable(),
  batch_size: z.number().int().nullable().meta({ description: 'Rows in the session.run the job was part of.' }),
  routed_by: z.enum(ROUTED_BY).optional().meta({ description: 'Why model_version answered: pinned, weight, sticky or fallback.' }),
  fallback_from: z.object({ version: z.string(), reason: z.string() }).optional().meta({ description: 'The routed version that failed before the fallback answered, and why.' }),
  result: z
    .union([z.object({ outputs: z.array(v2Tensor) }), z.record(z.string(), z.unknown())])
    .optional()
    .meta({ description: 'V2 outputs for tensor requests; the model\'s post-processed prediction (or {predictions: [...]}) otherwise.' }),
  error: errorBodySchema.optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
  expires_at: timestamp.optional(),
});

const deliveryAttemptSchema = z.object({
  attempt: z.number().int(),
  at: timestamp,
  status_code: z.number().int().nullable(),
  latency_ms: z.number(),
  error: z.string().nullable(),
  next_attempt_at: timestamp.nullable(),
});

export const deliverySchema = z.object({
  delivery_id: z.string().meta({ description: 'Also the webhook-id header, the same on every attempt.' }),
  event: z.enum(WEBHOOK_EVENT_TYPES),
  url: z.string(),
  created_at: timestamp,
  state: z.enum(['pending', 'retrying', 'succeeded', 'failed']),
  attempts_made: z.number().int(),
  next_attempt_at: timestamp.nullable(),
  redelivery_of: z.string().optional(),
  attempts: z.array(deliveryAttemptSchema).optional(),
});

export const deliveriesSchema = z.object({ job_id: z.string(), deliveries: z.array(deliverySchema) });

export const batchSchema = z.object({
  batch_id: z.string(),
  status: z.enum(BATCH_STATUSES),
  model: z.string(),
  model_version: z.string(),
  total: z.number().int(),
  succeeded: z.number().int(),
  failed: z.number().int(),
  canceled: z.number().int(),
  pending: z.number().int(),
  percent: z.number(),
  created_at: timestamp,
  started_at: timestamp.nullable(),
  finished_at: timestamp.nullable(),
  timings: z.object({ ingest_ms: z.number().nullable(), total_ms: z.number().nullable() }),
  poll_url: z.string().optional(),
  results_url: z.string(),
  expires_at: timestamp.nullable(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
});

export const scheduleViewSchema = scheduleSchema.extend({ name: z.string(), next_run_at: timestamp.nullable() });
export const scheduleListSchema = z.object({ schedules: z.array(scheduleViewSchema) });

const percentilesSchema = z.object({ p50: z.number().nullable(), p95: z.number().nullable() });
const versionHealthSchema = z.object({ requests: z.number().int(), errors: z.number().int(), error_rate: z.number(), queue_ms: percentilesSchema, inference_ms: percentilesSchema });

export const routingStatusSchema = z.object({
  model: z.string(),
  revision: z.number().int().meta({ description: '0: the default policy (100 % to the newest available version), never stored.' }),
  source: z.enum(['default', 'repository', 'admin', 'guardrail']),
  updated_at: timestamp.nullable(),
  weights: z.record(z.string(), z.number()),
  shadow: z.string().nullable(),
  fallback: z.string().nullable(),
  stable: z.string().nullable(),
  canaries: z.array(z.string()),
  guardrails: z.object({ enabled: z.boolean(), min_samples: z.number().int(), max_p95_inference_delta_ms: z.number(), max_error_rate_ratio: z.number(), min_error_rate: z.number() }),
  health: z.object({ window_seconds: z.number().int(), versions: z.record(z.string(), versionHealthSchema) }),
  shadow_comparisons: z.array(
    z.object({
      primary_version: z.string(),
      shadow_version: z.string(),
      compared: z.number().int(),
      agreement_rate: z.number(),
      shadow_errors: z.number().int(),
      primary_inference_ms: percentilesSchema,
      shadow_inference_ms: percentilesSchema,
      latency_delta_ms: percentilesSchema,
    }),
  ),
  events: z.array(z.record(z.string(), z.unknown())).meta({ description: 'Newest first: policy changes, seeds and rollbacks (time, reason, the numbers).' }),
});

const tensorSpecSchema = z.object({ name: z.string(), datatype: z.enum(TENSOR_DATATYPES), shape: z.array(z.number().int()), description: z.string().optional() });

export const modelSchema = z.object({
  name: z.string(),
  routing: routingStatusSchema.optional().meta({ description: 'GET /v1/models/{name}: the routing status, as GET /v1/models/{name}/routing gives it.' }),
  default_version: z.string().nullable(),
  versions: z.array(
    z.object({
      version: z.string(),
      state: z.enum(['loaded', 'available', 'refused', 'unloaded']),
      reason: z.string().optional(),
      description: z.string().nullable(),
      task: z.string().nullable(),
      inputs: z.array(tensorSpecSchema),
      outputs: z.array(tensorSpecSchema),
      features: z.array(z.string()).nullable(),
      feature_ranges: z
        .record(z.string(), z.object({ min: z.number().optional(), max: z.number().optional() }))
        .nullable()
        .meta({ description: 'Per feature, the inclusive bounds its values must keep (INPUT_OUT_OF_RANGE otherwise); {} when none are declared.' }),
      labels: z.array(z.string()).nullable(),
      batching: z.object({ max_batch_size: z.number().int(), max_wait_ms: z.number() }).nullable(),
      sha256: z.string().nullable(),
      workers: z.object({
        ready: z.number().int(),
        loading: z.number().int(),
        failed: z.array(z.object({ worker_id: z.string(), reason: z.string().nullable() })),
        execution_providers: z.array(z.string()),
      }),
      quality: z
        .object({
          labelled: z.number().int(),
          accuracy: z.number().nullable(),
          positive_label: z.string().nullable(),
          precision: z.number().nullable(),
          recall: z.number().nullable(),
          log_loss: z.number().nullable(),
          calibration: z.array(z.object({ from: z.number(), to: z.number(), count: z.number().int(), mean_predicted: z.number().nullable(), observed: z.number().nullable() })),
        })
        .nullable()
        .optional()
        .meta({ description: 'GET /v1/models/{name}, classifiers: quality over the labelled predictions of the window (docs/predictions.md).' }),
      drift: z
        .object({
          reference: z.enum(['first_predictions', 'reference.json']),
          reference_size: z.number().int(),
          window_size: z.number().int(),
          threshold: z.number(),
          features: z.record(z.string(), z.object({ psi: z.number(), drifted: z.boolean() })),
        })
        .nullable()
        .optional()
        .meta({ description: "GET /v1/models/{name}, models with named features: each feature's PSI against the version's reference." }),
    }),
  ),
});

export const labelResultsSchema = z.object({
  stored: z.number().int(),
  unchanged: z.number().int(),
  rejected: z.number().int(),
  results: z.array(z.object({ row: z.number().int(), status: z.enum(['stored', 'unchanged']).optional(), prediction_id: z.string().optional(), error: errorEnvelopeSchema.shape.error.optional() })),
});

export const labelResultSchema = z.object({ status: z.enum(['stored', 'unchanged']), prediction_id: z.string(), model: z.string(), version: z.string().nullable() });

export const unloadSchema = z.object({ model: z.string(), version: z.string(), status: z.literal('draining') });

export const rescanSchema = z.object({ status: z.literal('requested'), models: z.array(z.string()), workers_notified: z.number().int() });

export const modelListSchema = z.object({ models: z.array(modelSchema.extend({ routing: z.record(z.string(), z.unknown()) })) });

export const healthSchema = z.object({ status: z.literal('ok') });
export const readinessSchema = z.object({
  status: z.enum(['ready', 'not_ready']),
  redis: z.enum(['ok', 'unreachable']),
  models: z.number().int(),
  auth: z.string().optional(),
});

// KServe V2 / Open Inference Protocol answers (specification/protocol/inference_rest.md).
export const v2ErrorSchema = z.object({ error: z.string().meta({ description: 'What went wrong; the stable code is in the inferq-error-code header.' }) });
export const v2LiveSchema = z.object({ live: z.boolean() });
export const v2ServerReadySchema = z.object({ ready: z.boolean() });
export const v2ModelReadySchema = z.object({ name: z.string(), ready: z.boolean() });
export const v2ServerMetadataSchema = z.object({ name: z.string(), version: z.string(), extensions: z.array(z.string()) });
const v2TensorMetadata = z.object({ name: z.string(), datatype: z.string(), shape: z.array(z.number().int()) });
export const v2ModelMetadataSchema = z.object({
  name: z.string(),
  versions: z.array(z.string()),
  platform: z.string(),
  inputs: z.array(v2TensorMetadata),
  outputs: z.array(v2TensorMetadata),
});
export const v2InferenceResponseSchema = z.object({
  model_name: z.string(),
  model_version: z.string(),
  id: z.string().optional().meta({ description: "The request's id, when it had one." }),
  parameters: z.object({ job_id: z.string().meta({ description: 'The inferq job that answered (GET /v1/jobs/{id} reads it).' }) }),
  outputs: z.array(z.object({ name: z.string(), datatype: z.string(), shape: z.array(z.number().int()), data: z.array(z.unknown()) })),
});

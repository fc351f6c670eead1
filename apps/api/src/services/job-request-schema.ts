import { z } from 'zod';
import { MODEL_NAME_PATTERN } from '@inferq/inference/manifest';
import { WEBHOOK_EVENT_TYPES } from '@inferq/webhooks/events';

const requestTensor = z.object({
  name: z.string().min(1),
  datatype: z.string().min(1),
  shape: z.array(z.number().int()).min(1).max(8),
  data: z.array(z.unknown()),
});

/** `{url, events?}`: where to announce events, and which (see the README's Webhooks section). */
export const webhookSchema = z.strictObject({
  url: z.string().min(1).max(2048),
  events: z.array(z.enum(WEBHOOK_EVENT_TYPES)).min(1).max(WEBHOOK_EVENT_TYPES.length).optional(),
});

/** `POST /v1/jobs` body. Unknown fields are refused so a misspelt option is not silently ignored. */
export function jobRequestSchema(maxTtlSeconds: number) {
  return z
    .strictObject({
      model: z.string().regex(MODEL_NAME_PATTERN, 'lower-case letters, digits, - and _'),
      version: z.string().min(1).max(32).optional(),
      /** Sticky routing: jobs with the same key (a user id, say) land on the same version while the weights stand. */
      routing_key: z.string().min(1).max(256).optional(),
      inputs: z.array(requestTensor).min(1).max(64).optional(),
      features: z.union([z.record(z.string(), z.unknown()), z.array(z.record(z.string(), z.unknown()))]).optional(),
      /** An image for models with image preprocessing: base64 bytes, optionally as a data: URL. */
      image: z.strictObject({ data: z.string() }).optional(),
      /** Also return the raw V2 output tensors beside the post-processed result. */
      include_outputs: z.boolean().optional(),
      ttl_seconds: z.number().int().min(1).max(maxTtlSeconds).optional(),
      /** 1 (most urgent) to 9; default 5. Within a priority, tenants take turns. */
      priority: z.number().int().min(1).max(9).optional(),
      /** A job not started within this many seconds fails with DEADLINE_EXCEEDED and never runs. */
      deadline_seconds: z.number().positive().max(31_536_000).optional(),
      metadata: z.record(z.string(), z.unknown()).optional(),
      /** Announce the job's end to this URL (checked against the SSRF rules at submit). Default events: every job.* one. */
      webhook: webhookSchema.optional(),
    })
    .refine((b) => [b.inputs, b.features, b.image].filter((x) => x !== undefined).length === 1, {
      message: 'give exactly one of inputs (V2 tensors), features (named values) or image',
      path: ['inputs'],
    });
}

export type JobRequest = z.infer<ReturnType<typeof jobRequestSchema>>;

/** Options of a raw image upload (`Content-Type: image/*`), which travel in the query string. */
export function imageUploadQuerySchema(maxTtlSeconds: number) {
  return z.strictObject({
    model: z.string().regex(MODEL_NAME_PATTERN, 'lower-case letters, digits, - and _'),
    version: z.string().min(1).max(32).optional(),
    ttl_seconds: z.coerce.number().int().min(1).max(maxTtlSeconds).optional(),
    include_outputs: z.enum(['true', 'false']).transform((v) => v === 'true').optional(),
  });
}

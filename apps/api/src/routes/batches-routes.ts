import { Hono, type MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { stream } from 'hono/streaming';
import { z } from 'zod';
import { arrayRows, csvRows, ndjsonRows, type RowBlocks } from '@inferq/batch/row-sources';
import { InferqError } from '@inferq/core/errors';
import { MODEL_NAME_PATTERN } from '@inferq/inference/manifest';
import type { AppEnv } from '../app-env.ts';
import { payloadTooLarge } from '../middleware/json-body.ts';
import { limitedBody } from '../middleware/streamed-body.ts';
import type { BatchRequest, BatchService } from '../services/batch-service.ts';
import { webhookSchema } from '../services/job-request-schema.ts';
import { declinedRetryAfterSeconds } from '../services/completion-listener.ts';
import { parseWait } from '../wait-time.ts';
import { clientGone } from '../client-gone.ts';

export interface BatchesRoutesOptions {
  batches: BatchService;
  /** Limit for streamed NDJSON/CSV uploads. */
  maxBatchBytes: number;
  /** Limit for the JSON form, which is parsed whole. */
  maxBodyBytes: number;
  maxTtlSeconds: number;
  maxLongPollSeconds: number;
}

export function querySchema(maxTtlSeconds: number) {
  return z
    .strictObject({
      model: z.string().regex(MODEL_NAME_PATTERN),
      version: z.string().min(1).max(32).optional(),
      ttl_seconds: z.coerce.number().int().min(1).max(maxTtlSeconds).optional(),
      webhook_url: z.string().min(1).max(2048).optional(),
      /** Comma-separated event types. */
      webhook_events: z.string().optional(),
    })
    .transform(({ webhook_url, webhook_events, ...rest }) => ({
      ...rest,
      ...(webhook_url ? { webhook: { url: webhook_url, ...(webhook_events ? { events: webhook_events.split(',').map((e) => e.trim()) } : {}) } } : {}),
    }))
    .pipe(
      z.object({
        model: z.string(),
        version: z.string().optional(),
        ttl_seconds: z.number().optional(),
        webhook: webhookSchema.optional(),
      }),
    );
}

export function jsonSchema(maxTtlSeconds: number) {
  return z.strictObject({
    model: z.string().regex(MODEL_NAME_PATTERN),
    version: z.string().min(1).max(32).optional(),
    ttl_seconds: z.number().int().min(1).max(maxTtlSeconds).optional(),
    webhook: webhookSchema.optional(),
    rows: z.array(z.record(z.string(), z.unknown())),
  });
}

function invalid(code: 'INVALID_QUERY' | 'INVALID_REQUEST', error: z.ZodError): InferqError {
  const issues = error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
  return new InferqError(code, issues.map((i) => `${i.path}: ${i.message}`).join('; '), { details: { issues } });
}

const pollUrl = (batchId: string) => `/v1/batches/${encodeURIComponent(batchId)}`;

export function batchesRoutes(options: BatchesRoutesOptions) {
  const { batches } = options;
  const query = querySchema(options.maxTtlSeconds);
  const json = jsonSchema(options.maxTtlSeconds);
  const jsonLimit = bodyLimit({ maxSize: options.maxBodyBytes, onError: () => { throw payloadTooLarge(options.maxBodyBytes); } });
  // Streamed uploads are limited as they are read (limitedBody), never buffered: only a declared
  // Content-Length is checked up front.
  const declaredLimit: MiddlewareHandler<AppEnv> = async (c, next) => {
    if (Number(c.req.header('content-length') ?? 0) > options.maxBatchBytes) throw payloadTooLarge(options.maxBatchBytes, 'INFERQ_MAX_BATCH_BYTES');
    await next();
  };
  return new Hono<AppEnv>()
    .post('/', (c, next) => (/^application\/json/i.test(c.req.header('content-type') ?? '') ? jsonLimit(c, next) : declaredLimit(c, next)), async (c) => {
      const type = (c.req.header('content-type') ?? '').toLowerCase();
      let request: BatchRequest;
      let rows: RowBlocks;
      if (type.startsWith('application/json')) {
        let body: unknown;
        try {
          body = JSON.parse(await c.req.text());
        } catch (error) {
          throw new InferqError('MALFORMED_JSON', `the body is not valid JSON: ${(error as Error).message}`);
        }
        const parsed = json.safeParse(body);
        if (!parsed.success) throw invalid('INVALID_REQUEST', parsed.error);
        request = parsed.data;
        rows = arrayRows(parsed.data.rows);
      } else {
        const parsed = query.safeParse(c.req.query());
        if (!parsed.success) throw invalid('INVALID_QUERY', parsed.error);
        request = parsed.data;
        const body = c.req.raw.body;
        if (!body) throw new InferqError('EMPTY_BODY', 'send the rows as the body');
        const limited = limitedBody(body, options.maxBatchBytes, 'INFERQ_MAX_BATCH_BYTES');
        if (type.startsWith('application/x-ndjson') || type.startsWith('application/jsonl')) rows = ndjsonRows(limited);
        else if (type.startsWith('text/csv')) rows = csvRows(limited);
        else throw new InferqError('UNSUPPORTED_MEDIA_TYPE', `content-type ${type || '(none)'}: send application/x-ndjson, text/csv or application/json`);
      }
      const view = await batches.submit(request, rows, c.get('principal').tenant);
      c.header('Location', pollUrl(view.batch_id));
      return c.json({ ...view, poll_url: pollUrl(view.batch_id) }, 202);
    })
    .get('/:id', async (c) => {
      const waitSeconds = parseWait(c.req.query('wait'), options.maxLongPollSeconds);
      const { view, declined } = await batches.waitFor(c.req.param('id'), c.get('principal').tenant, waitSeconds * 1000, clientGone(c));
      if (!['succeeded', 'failed', 'canceled'].includes(view.status)) c.header('Retry-After', String(declined ? declinedRetryAfterSeconds(waitSeconds) : 2));
      return c.json(view, 200);
    })
    .get('/:id/results', async (c) => {
      const lines = await batches.results(c.req.param('id'), c.get('principal').tenant);
      c.header('content-type', 'application/x-ndjson');
      return stream(c, async (out) => {
        for await (const chunk of lines) await out.write(chunk);
      });
    })
    .delete('/:id', async (c) => c.json(await batches.cancel(c.req.param('id'), c.get('principal').tenant), 200));
}

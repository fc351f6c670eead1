import { Hono } from 'hono';
import { z } from 'zod';
import { InferqError } from '@inferq/core/errors';
import type { AppEnv } from '../app-env.ts';
import { IMAGE_CONTENT_TYPE, imageBody } from '../middleware/image-body.ts';
import { jsonBody } from '../middleware/json-body.ts';
import { imageUploadQuerySchema, jobRequestSchema, type JobRequest } from '../services/job-request-schema.ts';
import type { BulkItem, JobService } from '../services/job-service.ts';
import { isFinished } from '../services/job-view.ts';
import { declinedRetryAfterSeconds } from '../services/completion-listener.ts';
import { parseWait, preferredWait } from '../wait-time.ts';
import { clientGone } from '../client-gone.ts';

export interface JobsRoutesOptions {
  jobs: JobService;
  maxBodyBytes: number;
  maxTtlSeconds: number;
  maxLongPollSeconds: number;
  maxJobsPerBulk: number;
}

const pollUrl = (jobId: string) => `/v1/jobs/${encodeURIComponent(jobId)}`;


export function jobsRoutes(options: JobsRoutesOptions) {
  const { jobs } = options;
  const schema = jobRequestSchema(options.maxTtlSeconds);
  const fromJson = jsonBody({ maxBytes: options.maxBodyBytes, schema });
  const fromImage = imageBody({ maxBytes: options.maxBodyBytes, querySchema: imageUploadQuerySchema(options.maxTtlSeconds), bodySchema: schema });
  return new Hono<AppEnv & { Variables: { body: JobRequest } }>()
    .post('/', (c, next) => (IMAGE_CONTENT_TYPE.test(c.req.header('content-type') ?? '') ? fromImage(c, next) : fromJson(c, next)), async (c) => {
      const key = c.req.header('idempotency-key');
      if (key !== undefined && (key.length === 0 || key.length > 255)) {
        throw new InferqError('INVALID_REQUEST', 'Idempotency-Key must be 1 to 255 characters');
      }
      const tenant = c.get('principal').tenant;
      // Prefer: wait=N: one exchange instead of a submit and a poll, when the job ends in time.
      const waitSeconds = preferredWait(c.req.header('prefer'), options.maxLongPollSeconds);
      const { job, created, view, declined } =
        waitSeconds > 0
          ? await jobs.submitAndWait(c.get('body'), key, c.get('requestId'), tenant, waitSeconds * 1000, clientGone(c))
          : { ...(await jobs.submit(c.get('body'), key, c.get('requestId'), tenant)), view: undefined, declined: false };
      const url = pollUrl(job.job_id);
      c.header('Location', url);
      if (!created) c.header('Idempotent-Replayed', 'true');
      if (waitSeconds > 0) {
        c.header('Preference-Applied', `wait=${waitSeconds}`);
        if (view && isFinished(view)) return c.json(view, 200);
        c.header('Retry-After', String(declined ? declinedRetryAfterSeconds(waitSeconds) : 1));
      }
      return c.json({ ...job, poll_url: url }, 202);
    })
    .post('/bulk', jsonBody({ maxBytes: options.maxBodyBytes, schema: z.strictObject({ jobs: z.array(z.unknown()).min(1) }) }), async (c) => {
      const { jobs: raw } = c.get('body') as { jobs: unknown[] };
      if (raw.length > options.maxJobsPerBulk) {
        throw new InferqError('TOO_MANY_JOBS', `the call carries ${raw.length} jobs; at most ${options.maxJobsPerBulk} are allowed (INFERQ_MAX_JOBS_PER_BULK)`, {
          details: { jobs: raw.length, max_jobs: options.maxJobsPerBulk },
        });
      }
      // Each job is checked against the same schema as a single submit, and fails alone.
      const parsed = raw.map((item) => schema.safeParse(item));
      const valid = parsed.flatMap((p, index) => (p.success ? [{ index, request: p.data }] : []));
      const submitted = await jobs.submitMany(valid.map((v) => v.request), c.get('requestId'), c.get('principal').tenant);
      const items: (BulkItem | undefined)[] = parsed.map((p) =>
        p.success ? undefined : { error: { code: 'INVALID_REQUEST', message: p.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') } },
      );
      valid.forEach((v, i) => {
        items[v.index] = submitted[i];
      });
      return c.json({ jobs: items }, 202);
    })
    .get('/:id', async (c) => {
      const waitSeconds = parseWait(c.req.query('wait'), options.maxLongPollSeconds);
      const { view, declined } = await jobs.waitFor(c.req.param('id'), c.get('principal').tenant, waitSeconds * 1000, clientGone(c));
      if (!isFinished(view)) c.header('Retry-After', String(declined ? declinedRetryAfterSeconds(waitSeconds) : 1));
      return c.json(view, 200);
    })
    .delete('/:id', async (c) => c.json(await jobs.cancel(c.req.param('id'), c.get('principal').tenant), 200));
}

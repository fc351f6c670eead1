import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { z } from 'zod';
import { InferqError } from '@inferq/core/errors';
import { MODEL_NAME_PATTERN } from '@inferq/inference/manifest';
import type { ExportedPrediction } from '@inferq/jobs/prediction-store';
import type { AppEnv } from '../app-env.ts';
import type { Principal } from '../auth/keyring.ts';
import { payloadTooLarge } from '../middleware/json-body.ts';
import type { LabelRow, PredictionService } from '../services/prediction-service.ts';

export interface PredictionsRoutesOptions {
  predictions: PredictionService;
  maxBodyBytes: number;
}

/** Where the next page of an export starts (the last entry read), and whether more may follow. */
export const CURSOR_HEADER = 'Inferq-Cursor';
export const MORE_HEADER = 'Inferq-More';

/** An ISO 8601 time or epoch milliseconds. */
const instant = z.string().transform((text, ctx) => {
  const ms = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
  if (!Number.isFinite(ms)) {
    ctx.addIssue({ code: 'custom', message: 'an ISO 8601 time or epoch milliseconds' });
    return z.NEVER;
  }
  return ms;
});
const flag = z.enum(['true', 'false']).transform((v) => v === 'true');

export const exportQuerySchema = z.strictObject({
  model: z.string().regex(MODEL_NAME_PATTERN),
  version: z.string().min(1).max(32).optional(),
  since: instant.optional(),
  until: instant.optional(),
  status: z.enum(['succeeded', 'failed', 'canceled']).optional(),
  has_label: flag.optional(),
  shadow: flag.optional(),
  cursor: z.string().regex(/^\d{1,20}-\d{1,20}$/, 'a cursor from the Inferq-Cursor header').optional(),
  limit: z.coerce.number().int().min(1).max(10_000).default(1000),
  /** Admin only: one tenant's predictions (an admin sees every tenant's by default). */
  tenant: z.string().min(1).max(64).optional(),
});

const labelValue = z.unknown().refine((v) => v !== undefined && v !== null, 'label is required');
export const labelRowSchema = z.union([
  z.strictObject({ job_id: z.string().min(1).max(128), label: labelValue }),
  z.strictObject({ model: z.string().regex(MODEL_NAME_PATTERN), batch_id: z.string().min(1).max(64), row: z.number().int().min(0), label: labelValue }),
  z.strictObject({ model: z.string().regex(MODEL_NAME_PATTERN), routing_key: z.string().min(1).max(256), at: z.union([z.string().refine((t) => Number.isFinite(Date.parse(t)), 'an ISO 8601 time'), z.number().int().min(0)]), label: labelValue }),
]);

export const CSV_COLUMNS = [
  'logged_at', 'cursor', 'id', 'job_id', 'request_id', 'tenant', 'routing_key', 'batch_id', 'row', 'shadow', 'model', 'version', 'routed_by', 'status', 'error_code',
  'created_at', 'queue_ms', 'inference_ms', 'total_ms', 'batch_size', 'prediction', 'inputs', 'input_sha256', 'input_bytes', 'label', 'labeled_at',
] as const;

function csvCell(value: unknown): string {
  if (value === undefined || value === null) return '';
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** One CSV line: objects (prediction, inputs, label) as JSON in their cell. */
export function csvLine(p: ExportedPrediction): string {
  const values: Record<(typeof CSV_COLUMNS)[number], unknown> = {
    ...p,
    created_at: new Date(p.created_at).toISOString(),
    shadow: p.shadow ? 'true' : '',
    input_sha256: p.input_digest?.sha256,
    input_bytes: p.input_digest?.bytes,
  } as Record<(typeof CSV_COLUMNS)[number], unknown>;
  return CSV_COLUMNS.map((c) => csvCell(values[c])).join(',');
}

function invalid(code: 'INVALID_QUERY' | 'INVALID_REQUEST', error: z.ZodError, row?: number): InferqError {
  const issues = error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
  return new InferqError(code, issues.map((i) => `${i.path || 'row'}: ${i.message}`).join('; '), { details: { issues, ...(row !== undefined ? { row } : {}) } });
}

/** The admin scope reads and labels every tenant's predictions; any other key only its own. */
const scopeOf = (principal: Principal, asked?: string) => (principal.scopes.has('admin') ? asked : principal.tenant);

export function predictionsRoutes({ predictions, maxBodyBytes }: PredictionsRoutesOptions) {
  const limit = bodyLimit({ maxSize: maxBodyBytes, onError: () => { throw payloadTooLarge(maxBodyBytes); } });
  return new Hono<AppEnv>()
    .get('/predictions', async (c) => {
      const parsed = exportQuerySchema.safeParse(c.req.query());
      if (!parsed.success) throw invalid('INVALID_QUERY', parsed.error);
      const q = parsed.data;
      const page = await predictions.page({
        model: q.model,
        tenant: scopeOf(c.get('principal'), q.tenant),
        version: q.version,
        since: q.since,
        until: q.until,
        status: q.status,
        hasLabel: q.has_label,
        shadow: q.shadow,
        cursor: q.cursor,
        limit: q.limit,
      });
      if (page.cursor) c.header(CURSOR_HEADER, page.cursor);
      c.header(MORE_HEADER, String(page.more));
      if (/\btext\/csv\b/i.test(c.req.header('accept') ?? '')) {
        c.header('content-type', 'text/csv; charset=utf-8');
        return c.body(`${[CSV_COLUMNS.join(','), ...page.predictions.map(csvLine)].join('\n')}\n`);
      }
      c.header('content-type', 'application/x-ndjson');
      return c.body(page.predictions.map((p) => `${JSON.stringify(p)}\n`).join(''));
    })
    .post('/labels', limit, async (c) => {
      const type = (c.req.header('content-type') ?? '').toLowerCase();
      const text = await c.req.text();
      const tenant = scopeOf(c.get('principal'));
      if (type.startsWith('application/x-ndjson') || type.startsWith('application/jsonl')) {
        const rows: (LabelRow | InferqError)[] = [];
        for (const [i, line] of text.split('\n').entries()) {
          if (!line.trim()) continue;
          try {
            const parsed = labelRowSchema.safeParse(JSON.parse(line));
            rows.push(parsed.success ? (parsed.data as LabelRow) : invalid('INVALID_REQUEST', parsed.error, i));
          } catch (error) {
            rows.push(new InferqError('MALFORMED_JSON', `line ${i + 1} is not valid JSON: ${(error as Error).message}`, { details: { line: i + 1 } }));
          }
        }
        const valid = rows.filter((r): r is LabelRow => !(r instanceof InferqError));
        const labelled = await predictions.label(valid, tenant);
        let next = 0;
        const results = rows.map((r, row) => (r instanceof InferqError ? { row, error: r.toBody() } : { row, ...(labelled[next++] as object) }));
        const count = (status: string) => results.filter((r) => 'status' in r && r.status === status).length;
        return c.json({ stored: count('stored'), unchanged: count('unchanged'), rejected: results.filter((r) => 'error' in r).length, results }, 200);
      }
      if (!type.startsWith('application/json')) throw new InferqError('UNSUPPORTED_MEDIA_TYPE', `content-type ${type || '(none)'}: send application/json (one label) or application/x-ndjson (one per line)`);
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch (error) {
        throw new InferqError('MALFORMED_JSON', `the body is not valid JSON: ${(error as Error).message}`);
      }
      const parsed = labelRowSchema.safeParse(body);
      if (!parsed.success) throw invalid('INVALID_REQUEST', parsed.error);
      const [result] = await predictions.label([parsed.data as LabelRow], tenant);
      if (!result) throw new InferqError('INTERNAL', 'no label result');
      if ('error' in result) throw new InferqError(result.error.code, result.error.message, result.error.details ? { details: result.error.details } : {});
      return c.json(result, 200);
    });
}

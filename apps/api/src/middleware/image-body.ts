import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { every } from 'hono/combine';
import type { z } from 'zod';
import { InferqError } from '@inferq/core/errors';
import type { AppEnv } from '../app-env.ts';
import { payloadTooLarge } from './json-body.ts';

export interface ImageBodyOptions<S extends z.ZodType, B> {
  /** Largest body in bytes; larger gets 413 before it is read whole. */
  maxBytes: number;
  /** Validates the query string, which carries the job's options for a raw upload. */
  querySchema: S;
  /** The JSON request schema, which the assembled request must pass as well. */
  bodySchema: z.ZodType<B>;
}

export const IMAGE_CONTENT_TYPE = /^image\/(png|jpeg|webp)\s*(;|$)/i;

/**
 * A raw image upload (`curl --data-binary @line.png -H 'content-type: image/png'`): the body is
 * the image, the query string the options. It becomes the same request as the JSON form
 * `{model, image: {data: <base64>}, ...}`, so one submit path serves both.
 */
/** Query-string wording: an unknown key is a parameter to drop, not an "unrecognized key". */
function describeQueryIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return `unknown query parameter ${issue.keys.join(', ')}; a raw upload takes model, version, ttl_seconds and include_outputs`;
  return issue.message;
}

type WithBody<B> = AppEnv & { Variables: { body: B } };

export function imageBody<S extends z.ZodType, B>(options: ImageBodyOptions<S, B>): MiddlewareHandler<WithBody<B>> {
  const read: MiddlewareHandler<WithBody<B>> = async (c, next) => {
    const params = c.req.query();
    if (params.model === undefined) {
      throw new InferqError('INVALID_QUERY', 'a raw image upload names its model in the query string: POST /v1/jobs?model=<name> (e.g. ?model=textline-ocr)', {
        details: { missing: ['model'] },
      });
    }
    const query = options.querySchema.safeParse(params);
    if (!query.success) {
      const issues = query.error.issues.map((i) => ({ path: i.path.join('.'), message: describeQueryIssue(i) }));
      throw new InferqError('INVALID_QUERY', issues.map((i) => (i.path ? `?${i.path}: ${i.message}` : i.message)).join('; '), { details: { issues } });
    }
    const bytes = new Uint8Array(await c.req.arrayBuffer());
    if (bytes.length === 0) throw new InferqError('EMPTY_BODY', 'the upload has no bytes: send the image as the body');
    const body = options.bodySchema.safeParse({ ...(query.data as object), image: { data: Buffer.from(bytes).toString('base64') } });
    if (!body.success) throw new InferqError('INVALID_QUERY', body.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
    c.set('body', body.data);
    await next();
  };
  return every(bodyLimit({ maxSize: options.maxBytes, onError: () => { throw payloadTooLarge(options.maxBytes); } }), read) as MiddlewareHandler<WithBody<B>>;
}

import type { MiddlewareHandler } from 'hono';
import { InferqError } from '@inferq/core/errors';
import type { AppEnv } from '../app-env.ts';

/** The media types `POST /v1/jobs` reads: the JSON request, or a raw image for image models. */
export const JOB_CONTENT_TYPES = ['application/json', 'image/png', 'image/jpeg', 'image/webp'] as const;

function accepts(accepted: readonly string[], header: string): boolean {
  const type = (header.split(';')[0] ?? '').trim().toLowerCase();
  // application/json also covers structured-syntax JSON types (application/merge-patch+json).
  return accepted.some((a) => a === type || (a === 'application/json' && /^application\/[\w.+-]+\+json$/.test(type)));
}

/**
 * 415 naming every accepted type, before a body parser that only knows its own (`image/gif` would
 * otherwise hear only that it "is not application/json").
 */
export function acceptedContentTypes(method: string, accepted: readonly string[]): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (c.req.method !== method) return next();
    const header = c.req.header('content-type') ?? '';
    if (!accepts(accepted, header)) {
      throw new InferqError('UNSUPPORTED_MEDIA_TYPE', `content-type ${header || '(none)'} is not accepted here; send one of ${accepted.join(', ')}`, {
        details: { content_type: header, accepted },
      });
    }
    return next();
  };
}

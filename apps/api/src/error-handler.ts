import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { InferqError } from '@inferq/core/errors';
import { isRedisOutOfMemoryError, isRedisUnavailableError, redisUnavailable, storageFull } from '@inferq/core/redis-connection';
import type { AppEnv } from './app-env.ts';
import { v2ErrorStatus } from './services/v2-protocol.ts';

/** The one place an error becomes an HTTP response: `{error: {code, message, details?}}` (V2 routes: `{error: message}`). */
export function toInferqError(error: unknown): InferqError {
  if (error instanceof InferqError) return error;
  if (isRedisOutOfMemoryError(error)) return storageFull(error);
  if (isRedisUnavailableError(error)) return redisUnavailable(error);
  if (error instanceof HTTPException) {
    if (error.status === 413) return new InferqError('PAYLOAD_TOO_LARGE');
    if (error.status === 404) return new InferqError('NOT_FOUND');
  }
  return new InferqError('INTERNAL', undefined, { cause: error });
}

export function handleError(error: unknown, c: Context<AppEnv>): Response {
  const mapped = toInferqError(error);
  if (mapped.code === 'INTERNAL') c.get('log')?.logger.error({ err: error }, 'unhandled error');
  else if (mapped.code === 'REDIS_UNAVAILABLE') c.get('log')?.logger.warn({ err: mapped.cause }, 'redis unavailable');
  if (mapped.retryAfterSeconds !== undefined) c.header('Retry-After', String(mapped.retryAfterSeconds));
  // The KServe V2 routes answer in that protocol's error shape; the stable code travels in a header.
  if (c.req.path === '/v2' || c.req.path.startsWith('/v2/')) {
    c.header('inferq-error-code', mapped.code);
    return c.json({ error: mapped.message }, v2ErrorStatus(mapped) as 400);
  }
  return c.json({ error: mapped.toBody() }, mapped.status as 400);
}

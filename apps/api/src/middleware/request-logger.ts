import type { MiddlewareHandler } from 'hono';
import type { Logger } from '@inferq/core/logger';
import type { AppEnv } from '../app-env.ts';

export interface RequestLoggerOptions {
  logger: Logger;
}

/** Gives every request a logger bound to its request id, and logs each response (debug below 400). */
export function requestLogger({ logger }: RequestLoggerOptions): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const started = performance.now();
    const log = logger.child({ request_id: c.get('requestId') });
    c.set('logger', log);
    await next();
    const status = c.res.status;
    const line = { method: c.req.method, path: c.req.path, status, ms: Math.round((performance.now() - started) * 10) / 10 };
    if (status >= 500) log.error(line, 'request failed');
    else if (status >= 400) log.info(line, 'request rejected');
    else log.debug(line, 'request');
  };
}

import type { MiddlewareHandler } from 'hono';
import type { Logger } from '@inferq/core/logger';
import type { AppEnv } from '../app-env.ts';
import { RequestLog } from '../request-log.ts';

export interface RequestLoggerOptions {
  logger: Logger;
}

/** Gives every request a logger bound to its request id, and logs each response (debug below 400). */
export function requestLogger({ logger }: RequestLoggerOptions): MiddlewareHandler<AppEnv> {
  const debug = logger.isLevelEnabled('debug');
  return async (c, next) => {
    const started = performance.now();
    const log = new RequestLog(logger, c.get('requestId'));
    c.set('log', log);
    await next();
    const status = c.res.status;
    if (status < 400 && !debug) return;
    const line = { method: c.req.method, path: c.req.path, status, ms: Math.round((performance.now() - started) * 10) / 10 };
    if (status >= 500) log.logger.error(line, 'request failed');
    else if (status >= 400) log.logger.info(line, 'request rejected');
    else log.logger.debug(line, 'request');
  };
}

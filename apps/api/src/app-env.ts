import type { Principal } from './auth/keyring.ts';
import type { RequestLog } from './request-log.ts';

/** Per-request values set by middleware, typed for every route. */
export interface AppEnv {
  Variables: {
    requestId: string;
    /** The request's logger, created on first use. */
    log: RequestLog;
    /** Who is calling: set by `authenticate` on every /v1 and /admin route. */
    principal: Principal;
  };
}

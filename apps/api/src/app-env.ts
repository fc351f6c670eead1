import type { Logger } from '@inferq/core/logger';
import type { Principal } from './auth/keyring.ts';

/** Per-request values set by middleware, typed for every route. */
export interface AppEnv {
  Variables: {
    requestId: string;
    logger: Logger;
    /** Who is calling: set by `authenticate` on every /v1 and /admin route. */
    principal: Principal;
  };
}

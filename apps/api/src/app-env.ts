import type { Logger } from '@inferq/core/logger';

/** Per-request values set by middleware, typed for every route. */
export interface AppEnv {
  Variables: {
    requestId: string;
    logger: Logger;
  };
}

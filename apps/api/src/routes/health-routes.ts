import { Hono } from 'hono';
import type { Redis } from '@inferq/core/redis-connection';
import type { AppEnv } from '../app-env.ts';
import type { ModelCatalog } from '../services/model-catalog.ts';

export function healthRoutes({ redis, catalog, authOpen }: { redis: Redis; catalog: ModelCatalog; authOpen: boolean }) {
  return new Hono<AppEnv>()
    .get('/healthz', (c) => c.json({ status: 'ok' }))
    .get('/readyz', async (c) => {
      const redisOk = await redis.ping().then(() => true, () => false);
      const models = catalog.names();
      const ready = redisOk && models.length > 0;
      if (!ready) c.header('Retry-After', '2');
      return c.json(
        {
          status: ready ? 'ready' : 'not_ready',
          redis: redisOk ? 'ok' : 'unreachable',
          models: models.length,
          // Said wherever an operator looks: an open API is for development only.
          auth: authOpen ? 'disabled: no API keys configured, every request is tenant "default"' : 'api-keys',
        },
        ready ? 200 : 503,
      );
    });
}

import { Hono } from 'hono';
import type { Redis } from '@inferq/core/redis-connection';
import type { AppEnv } from '../app-env.ts';
import type { ModelCatalog } from '../services/model-catalog.ts';
import type { StorageMonitor } from '../services/storage-monitor.ts';

export function healthRoutes({ redis, catalog, storage, authOpen }: { redis: Redis; catalog: ModelCatalog; storage: StorageMonitor; authOpen: boolean }) {
  return new Hono<AppEnv>()
    .get('/healthz', (c) => c.json({ status: 'ok' }))
    .get('/readyz', async (c) => {
      const redisOk = await redis.ping().then(() => true, () => false);
      // Out of memory, Redis answers PING but refuses every submit: this process cannot take work.
      const full = redisOk && (await storage.full());
      const models = catalog.names();
      const ready = redisOk && !full && models.length > 0;
      if (!ready) c.header('Retry-After', '2');
      return c.json(
        {
          status: ready ? 'ready' : 'not_ready',
          redis: redisOk ? (full ? 'out_of_memory' : 'ok') : 'unreachable',
          models: models.length,
          // Said wherever an operator looks: an open API is for development only.
          auth: authOpen ? 'disabled: no API keys configured, every request is tenant "default"' : 'api-keys',
        },
        ready ? 200 : 503,
      );
    });
}

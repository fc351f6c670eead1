import { Hono } from 'hono';
import { z } from 'zod';
import type { Keyspace } from '@inferq/core/keyspace';
import { guardRedis, type Redis } from '@inferq/core/redis-connection';
import type { AppEnv } from '../app-env.ts';
import { requireScope } from '../auth/authenticate.ts';
import { jsonBody } from '../middleware/json-body.ts';
import type { RoutingService } from '../routing/routing-service.ts';
import type { ModelCatalog } from '../services/model-catalog.ts';

export interface RoutingRoutesOptions {
  routing: RoutingService;
  catalog: ModelCatalog;
  redis: Redis;
  keys: Keyspace;
  maxBodyBytes: number;
}

/**
 * Operator routes (admin scope): a model's routing policy and status, and a request that makes
 * every worker rescan the model repository now (hot load) instead of at its next interval.
 */
export function routingRoutes({ routing, catalog, redis, keys, maxBodyBytes }: RoutingRoutesOptions) {
  const admin = requireScope('admin');
  return new Hono<AppEnv>()
    .post('/rescan', admin, async (c) => {
      const receivers = await guardRedis(() => redis.publish(keys.modelsRescanChannel(), ''));
      return c.json({ status: 'requested', models: catalog.names(), workers_notified: receivers }, 202);
    })
    // Drains, then drops, a version everywhere: 202 now, the workers finish its queued jobs first.
    .delete('/:name/versions/:version', admin, async (c) => {
      const { name, version } = c.req.param();
      await guardRedis(() => routing.unload(name, version));
      return c.json({ model: name, version, status: 'draining' as const }, 202);
    })
    .get('/:name/routing', admin, async (c) => {
      catalog.get(c.req.param('name'));
      return c.json(await guardRedis(() => routing.status(c.req.param('name'))));
    })
    // The policy is checked by the service, which answers ROUTING_INVALID with every problem.
    .put('/:name/routing', admin, jsonBody({ maxBytes: maxBodyBytes, schema: z.unknown() }), async (c) => {
      const name = c.req.param('name');
      await guardRedis(() => routing.put(name, c.get('body')));
      return c.json(await guardRedis(() => routing.status(name)));
    });
}

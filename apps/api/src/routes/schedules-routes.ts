import { Hono } from 'hono';
import { SCHEDULE_NAME_PATTERN, scheduleSchema, type ScheduleRegistry } from '@inferq/batch/schedule';
import { InferqError } from '@inferq/core/errors';
import { guardRedis } from '@inferq/core/redis-connection';
import type { AppEnv } from '../app-env.ts';
import type { ModelCatalog } from '../services/model-catalog.ts';
import { jsonBody } from '../middleware/json-body.ts';

export interface SchedulesRoutesOptions {
  schedules: ScheduleRegistry;
  catalog: ModelCatalog;
  maxBodyBytes: number;
}

function checkName(name: string): string {
  if (!SCHEDULE_NAME_PATTERN.test(name)) throw new InferqError('INVALID_REQUEST', 'schedule names are 1-64 letters, digits, ., _ and -');
  return name;
}

function notFound(name: string): InferqError {
  return new InferqError('SCHEDULE_NOT_FOUND', `no schedule named ${name}`, { details: { name } });
}

/** Batch schedules: PUT creates or replaces one (idempotent), so a deploy script can apply them blindly. */
export function schedulesRoutes({ schedules, catalog, maxBodyBytes }: SchedulesRoutesOptions) {
  return new Hono<AppEnv>()
    .get('/', async (c) => c.json({ schedules: await guardRedis(() => schedules.list()) }))
    .get('/:name', async (c) => {
      const schedule = await guardRedis(() => schedules.get(c.req.param('name')));
      if (!schedule) throw notFound(c.req.param('name'));
      return c.json(schedule);
    })
    .put('/:name', jsonBody({ maxBytes: maxBodyBytes, schema: scheduleSchema }), async (c) => {
      const body = c.get('body');
      catalog.resolveVersion(body.model, body.version);
      try {
        return c.json(await guardRedis(() => schedules.upsert(checkName(c.req.param('name')), body, c.get('principal').tenant)), 200);
      } catch (error) {
        if (error instanceof InferqError) throw error;
        // BullMQ rejects a pattern it cannot parse, or an unknown time zone.
        throw new InferqError('INVALID_REQUEST', `cron or tz is invalid: ${(error as Error).message}`, { details: { cron: body.cron, tz: body.tz } });
      }
    })
    .delete('/:name', async (c) => {
      if (!(await guardRedis(() => schedules.remove(c.req.param('name'))))) throw notFound(c.req.param('name'));
      return c.body(null, 204);
    });
}

/**
 * Baseline for scenario 1: the least an HTTP enqueue endpoint can do on the same Redis. One
 * Hono route that parses the body and calls BullMQ's queue.add: no validation, no job id of its
 * own, no worker. argv[2]: {"redisUrl", "port"}.
 */
import { serve } from '@hono/node-server';
import { Queue } from 'bullmq';
import { Hono } from 'hono';
import { Redis } from 'ioredis';

const { redisUrl, port } = JSON.parse(process.argv[2] ?? '{}') as { redisUrl: string; port: number };
const queue = new Queue('bare-enqueue', { connection: new Redis(redisUrl, { maxRetriesPerRequest: 1 }), prefix: 'bench' });
const app = new Hono();
app.post('/enqueue', async (c) => {
  const job = await queue.add('job', await c.req.json());
  return c.json({ job_id: job.id }, 202);
});
serve({ fetch: app.fetch, port, hostname: '127.0.0.1' }, () => process.stdout.write('{"msg":"ready"}\n'));

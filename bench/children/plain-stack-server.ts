/**
 * Baseline for scenario 1: the HTTP half of the stack a user would write with Hono and BullMQ
 * alone (its worker is plain-stack-worker.ts). POST /v1/jobs adds one BullMQ job per request;
 * GET /v1/jobs/:id?wait=N and POST with `Prefer: wait=N` wait with job.waitUntilFinished on a
 * QueueEvents. Replies use inferq's shape and status words, so the same load generator drives
 * both. argv[2]: {"redisUrl", "port", "prefix", "queue"}.
 */
import { serve } from '@hono/node-server';
import { Job, Queue, QueueEvents } from 'bullmq';
import { Hono } from 'hono';
import { Redis } from 'ioredis';

const { redisUrl, port, prefix, queue: queueName } = JSON.parse(process.argv[2] ?? '{}') as { redisUrl: string; port: number; prefix: string; queue: string };
const queue = new Queue(queueName, {
  connection: new Redis(redisUrl, { maxRetriesPerRequest: 1 }),
  prefix,
  defaultJobOptions: { removeOnComplete: { age: 3600 }, removeOnFail: { age: 24 * 3600 } },
});
// QueueEvents blocks on XREAD: a connection of its own.
const queueEvents = new QueueEvents(queueName, { connection: new Redis(redisUrl, { maxRetriesPerRequest: null }), prefix });
const MAX_WAIT_SECONDS = 60;

const STATUS: Record<string, string> = { completed: 'succeeded', failed: 'failed', active: 'running' };

/** The job's view after waiting up to `waitSeconds` for it to finish. */
async function view(job: Job, waitSeconds: number): Promise<{ finished: boolean; body: Record<string, unknown> }> {
  if (waitSeconds > 0) {
    try {
      const result: unknown = await job.waitUntilFinished(queueEvents, waitSeconds * 1000);
      return { finished: true, body: { job_id: job.id, status: 'succeeded', result } };
    } catch {
      // Failed or timed out: the job's state says which.
    }
  }
  const latest = (await Job.fromId(queue, job.id as string)) ?? job;
  const status = STATUS[await latest.getState()] ?? 'queued';
  const finished = status === 'succeeded' || status === 'failed';
  return { finished, body: { job_id: job.id, status, ...(status === 'succeeded' ? { result: latest.returnvalue } : {}) } };
}

function waitSeconds(value: string | undefined): number {
  const seconds = Number(value ?? 0);
  return Number.isFinite(seconds) ? Math.min(Math.max(0, Math.floor(seconds)), MAX_WAIT_SECONDS) : 0;
}

const app = new Hono();
app.post('/v1/jobs', async (c) => {
  const job = await queue.add('job', await c.req.json());
  const wait = waitSeconds(/wait=(\d+)/.exec(c.req.header('prefer') ?? '')?.[1]);
  if (wait > 0) {
    const { finished, body } = await view(job, wait);
    if (finished) return c.json(body, 200);
  }
  return c.json({ job_id: job.id, status: 'queued', poll_url: `/v1/jobs/${job.id}` }, 202);
});
app.get('/v1/jobs/:id', async (c) => {
  const job = await Job.fromId(queue, c.req.param('id'));
  if (!job) return c.json({ error: 'not found' }, 404);
  const { finished, body } = await view(job, waitSeconds(c.req.query('wait')));
  if (!finished) c.header('Retry-After', '1');
  return c.json(body, 200);
});

await queueEvents.waitUntilReady();
serve({ fetch: app.fetch, port, hostname: '127.0.0.1' }, () => process.stdout.write('{"msg":"ready"}\n'));

/**
 * Baseline for scenario 1: the worker half of the plain Hono + BullMQ stack
 * (plain-stack-server.ts). One BullMQ job, one `session.run` of a single row built from the
 * job's `features` in the manifest's order, the output returned as the job's return value.
 * argv[2]: {"redisUrl", "prefix", "queue", "modelPath", "intraOpThreads", "concurrency",
 * "input", "featureNames"}.
 */
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { createBenchSession, floatTensor } from '../lib/ort-session.ts';

interface Plan {
  redisUrl: string;
  prefix: string;
  queue: string;
  modelPath: string;
  intraOpThreads: number;
  concurrency: number;
  /** The model input a row of features fills, and the features' order in it. */
  input: string;
  featureNames: string[];
}

const plan = JSON.parse(process.argv[2] ?? '{}') as Plan;
const session = await createBenchSession(plan.modelPath, plan.intraOpThreads);

const worker = new Worker<{ features: Record<string, number> }>(
  plan.queue,
  async (job) => {
    const row = plan.featureNames.map((name) => job.data.features[name] ?? 0);
    const outputs = await session.run({ [plan.input]: floatTensor(row, [1, row.length]) });
    return Object.fromEntries(Object.entries(outputs).map(([name, t]) => [name, Array.from(t.data as Float32Array)]));
  },
  { connection: new Redis(plan.redisUrl, { maxRetriesPerRequest: null }), prefix: plan.prefix, concurrency: plan.concurrency },
);
worker.on('failed', (job, error) => process.stderr.write(`job ${job?.id} failed: ${error.message}\n`));
await worker.waitUntilReady();
process.stdout.write('{"msg":"ready"}\n');

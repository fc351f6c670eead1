/**
 * Baseline for scenario 2: a BullMQ worker written the way most BullMQ + onnxruntime apps are.
 * One job, one in-process `session.run`, concurrency 1, the output returned as the job's
 * return value (BullMQ keeps it, like inferq keeps a result). It drains `jobs` jobs that are
 * already queued, then prints the span from the first job's start to the last one's completion.
 * argv[2]: {"redisUrl", "prefix", "queue", "jobs", "modelPath", "intraOpThreads"}.
 */
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { createBenchSession, floatTensor } from '../lib/ort-session.ts';
import { summarize } from '../lib/stats.ts';

interface Plan {
  redisUrl: string;
  prefix: string;
  queue: string;
  jobs: number;
  modelPath: string;
  intraOpThreads: number;
}
interface JobData {
  inputs: { name: string; shape: number[]; data: number[] }[];
}

const plan = JSON.parse(process.argv[2] ?? '{}') as Plan;
const session = await createBenchSession(plan.modelPath, plan.intraOpThreads);
let firstStart = 0;
let done = 0;
const runs: number[] = [];

const worker = new Worker<JobData>(
  plan.queue,
  async (job) => {
    if (firstStart === 0) firstStart = performance.now();
    const feeds = Object.fromEntries(job.data.inputs.map((t) => [t.name, floatTensor(t.data, t.shape)]));
    const t0 = performance.now();
    const outputs = await session.run(feeds);
    runs.push(performance.now() - t0);
    return Object.fromEntries(Object.entries(outputs).map(([name, t]) => [name, Array.from(t.data as Float32Array)]));
  },
  { connection: new Redis(plan.redisUrl, { maxRetriesPerRequest: null }), prefix: plan.prefix, concurrency: 1 },
);
worker.on('completed', () => {
  done += 1;
  if (done < plan.jobs) return;
  const spanMs = performance.now() - firstStart;
  const runMs = summarize(runs);
  // How much of the span went to inference at all: the rest is BullMQ's per-job round trips.
  const inferenceBusy = (runMs.mean * runMs.count) / spanMs;
  process.stdout.write(`${JSON.stringify({ jobs: done, spanMs, perSecond: (done * 1000) / spanMs, runMs, inferenceBusy })}\n`);
  void worker.close().then(() => process.exit(0));
});
worker.on('failed', (job, error) => {
  process.stderr.write(`job ${job?.id} failed: ${error.message}\n`);
  process.exit(1);
});

import { Queue } from 'bullmq';
import { describeCores, measureQuietly, startCpuShare, waitForQuiet, worse } from '../lib/cpu-share.ts';
import { spawnScript } from '../lib/processes.ts';
import type { ScenarioResult } from '../lib/report.ts';
import type { Settings } from '../lib/settings.ts';
import type { BenchStack } from '../lib/stack.ts';
import type { Summary } from '../lib/stats.ts';
import { drainThroughWorker, type DrainResult } from '../lib/worker-drain.ts';
import { servedVersion, wideMlpJob } from '../lib/workloads.ts';

const PLAIN_QUEUE = 'plain-wide-mlp';

/** The payload the API would have queued for the same request: the tensor in wire form. */
async function enqueuePlain(stack: BenchStack, jobs: number): Promise<void> {
  const queue = new Queue(PLAIN_QUEUE, { connection: stack.client, prefix: 'bench' });
  const { inputs } = wideMlpJob(1);
  for (let i = 0; i < jobs; i += 1000) {
    const n = Math.min(1000, jobs - i);
    await queue.addBulk(Array.from({ length: n }, () => ({ name: 'job', data: { inputs }, opts: { removeOnComplete: { age: 3600 } } })));
  }
  await queue.close();
}

/**
 * Scenario 2: the same single-row wide-mlp jobs, queued first and then drained, by inferq (API
 * then worker) and by a plain one-job-one-session.run BullMQ worker with the same intra-op threads.
 */
export async function batching(stack: BenchStack, s: Settings): Promise<{ result: ScenarioResult; drain: DrainResult }> {
  const inferq = await measureQuietly(async () => {
    await stack.flush();
    return drainThroughWorker(stack, { model: 'wide-mlp', body: wideMlpJob(1), rows: 1, jobs: s.batchingJobs });
  }, { cpuOf: (d) => d.cpu });
  const drain = inferq.value;

  const baseline = await measureQuietly(async () => {
    await stack.flush();
    await enqueuePlain(stack, s.batchingJobs);
    await waitForQuiet();
    const share = startCpuShare();
    const plain = await spawnScript('children/plain-worker.ts', [
      JSON.stringify({ redisUrl: stack.redis.url, prefix: 'bench', queue: PLAIN_QUEUE, jobs: s.batchingJobs, modelPath: servedVersion('wide-mlp').modelPath, intraOpThreads: stack.intraOpThreads }),
    ]).result<{ jobs: number; spanMs: number; perSecond: number; runMs: Summary; inferenceBusy: number }>();
    return { plain, cpu: share.stop() };
  }, { cpuOf: (p) => p.cpu });
  const { plain, cpu: plainCpu } = baseline.value;
  await stack.flush();

  const speedup = drain.jobsPerSecond / plain.perSecond;
  return {
    drain,
    result: {
      id: '2',
      title: `dynamic batching vs a plain BullMQ worker, ${s.batchingJobs.toLocaleString('en-US')} queued single-row wide-mlp jobs, ${stack.intraOpThreads} intra-op threads each`,
      rows: [
        { metric: 'plain worker (session.run per job, concurrency 1)', value: plain.perSecond, unit: 'jobs/s' },
        { metric: 'inferq worker (dynamic batching)', value: drain.jobsPerSecond, unit: 'jobs/s', baseline: { name: 'plain', value: plain.perSecond }, ratio: speedup, goal: '≥ 5× plain', pass: speedup >= 5 },
        { metric: 'rows per session.run (mean)', value: drain.batchRows.mean, unit: 'rows' },
      ],
      cpu: worse(drain.cpu, plainCpu),
      notes: [
        `inferq: ${drain.jobs} results, ${drain.failed} not succeeded, span ${drain.spanMs} ms, session.run p50 ${drain.inferenceMs.p50.toFixed(2)} ms, inference thread busy ${Math.round(drain.inferenceBusy * 100)} % of the span; plain: ${plain.jobs} jobs, span ${plain.spanMs.toFixed(0)} ms, session.run p50 ${plain.runMs.p50.toFixed(2)} ms, in session.run ${Math.round(plain.inferenceBusy * 100)} % of the span.`,
        `cores used during the inferq drain (worker start included): ${describeCores(drain.cpu)}; during the plain drain: ${describeCores(plainCpu)}.${inferq.attempts + baseline.attempts > 2 ? ` Best of ${inferq.attempts} inferq and ${baseline.attempts} plain attempts (others' load).` : ''}`,
      ],
      details: { inferq: drain, plain },
      summary: { plain_worker_jobs_per_s: plain.perSecond, batched_jobs_per_s: drain.jobsPerSecond, batching_speedup: speedup },
    },
  };
}

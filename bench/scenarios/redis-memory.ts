import { runLoad } from '../lib/load.ts';
import type { ScenarioResult } from '../lib/report.ts';
import type { Settings } from '../lib/settings.ts';
import { PREFIX, type BenchStack } from '../lib/stack.ts';
import { sleep } from '../lib/stats.ts';
import { fraudJob } from '../lib/workloads.ts';

const GOAL_BYTES = 1.5 * 1024;

/** MEMORY USAGE of the queue's shared structures (everything but the per-job hashes). */
async function keyBreakdown(stack: BenchStack): Promise<Record<string, number>> {
  const sizes: Record<string, number> = {};
  for (const suffix of ['events', 'wait', 'prioritized', 'marker', 'meta']) {
    const key = `${PREFIX}:model-{fraud-risk}:${suffix}`;
    if (await stack.client.exists(key)) sizes[suffix] = Number(await stack.client.call('MEMORY', 'USAGE', key, 'SAMPLES', '0'));
  }
  return sizes;
}

/**
 * Scenario 6, Redis part: `redisJobs` single-row fraud-risk jobs queued through the real API
 * with no worker serving fraud-risk; used_memory grows by what a queued job costs.
 */
export async function redisMemory(stack: BenchStack, s: Settings): Promise<ScenarioResult> {
  if (stack.workers.has('fraud-risk')) throw new Error('no fraud-risk worker may run while jobs are counted');
  await stack.flush();
  await sleep(500);
  const before = await stack.usedMemory();
  const load = await runLoad({ baseUrl: stack.apiUrl, path: '/v1/jobs', body: fraudJob, mode: 'closed', concurrency: 32, durationMs: 0, totalJobs: s.redisJobs, awaitResult: false });
  await sleep(500);
  const after = await stack.usedMemory();
  const perJob = (after - before) / load.completed;

  // One job's own hash, to say where the bytes go (found by its id's model prefix, whichever
  // BullMQ structure holds the id itself).
  const [, [sampleKey]] = await stack.client.scan('0', 'MATCH', `${PREFIX}:model-{fraud-risk}:fraud-risk.*`, 'COUNT', 10_000);
  const hashBytes = sampleKey ? Number(await stack.client.call('MEMORY', 'USAGE', sampleKey)) : Number.NaN;
  const dataBytes = sampleKey ? ((await stack.client.hget(sampleKey, 'data')) ?? '').length : Number.NaN;
  const optsBytes = sampleKey ? ((await stack.client.hget(sampleKey, 'opts')) ?? '').length : Number.NaN;
  const keyTypes = await keyBreakdown(stack);
  await stack.flush();
  return {
    id: '6',
    title: `Redis memory per queued job (${load.completed.toLocaleString('en-US')} fraud-risk features jobs through the real API, no worker)`,
    rows: [
      { metric: 'used_memory delta per queued job', value: perJob, unit: 'B', goal: `≤ ${GOAL_BYTES} B`, pass: perJob <= GOAL_BYTES },
      { metric: 'one job hash (MEMORY USAGE)', value: hashBytes, unit: 'B' },
    ],
    notes: [
      `used_memory ${before} → ${after} B over ${load.completed} jobs (submit rate ${load.perSecond.toFixed(0)}/s); one job hash is ${hashBytes} B, of which data ${dataBytes} B of JSON and opts ${optsBytes} B.`,
      `shared queue structures (B): ${JSON.stringify(keyTypes)}.`,
    ],
    details: { before, after, jobs: load.completed, perJob, hashBytes, dataBytes, optsBytes, sampleKey, keyTypes, statuses: load.statuses },
    summary: { redis_bytes_per_queued_job: perJob },
  };
}

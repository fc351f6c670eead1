import os from 'node:os';
import { describeCores, type CpuShare } from '../lib/cpu-share.ts';
import { closedLoopPlan, measureLoad } from '../lib/measure-load.ts';
import type { ScenarioResult } from '../lib/report.ts';
import type { Settings } from '../lib/settings.ts';
import type { BenchStack } from '../lib/stack.ts';
import { fraudJob, wideMlpJob } from '../lib/workloads.ts';

/** 1, 2, 4, … workers, and the machine's core count itself when it is not a power of two. */
export function workerCounts(cores = os.availableParallelism()): number[] {
  const counts: number[] = [];
  for (let n = 1; n <= cores; n *= 2) counts.push(n);
  if (counts.at(-1) !== cores) counts.push(cores);
  return counts;
}

interface Workload {
  label: string;
  model: string;
  body: unknown;
  rows: number;
}

const WORKLOADS: Workload[] = [
  { label: 'single-row fraud-risk jobs', model: 'fraud-risk', body: fraudJob, rows: 1 },
  { label: '64-row wide-mlp jobs (compute-heavy)', model: 'wide-mlp', body: wideMlpJob(64), rows: 64 },
];

/** The busiest process of a window: where the limit sits. */
function busiest(cpu: CpuShare): string {
  const [name, cores] = Object.entries(cpu.cores).sort((a, b) => b[1] - a[1])[0] ?? ['?', 0];
  return `${name} ${cores.toFixed(2)} cores`;
}

/**
 * Scale-out: the same closed-loop clients (`Prefer: wait`, one exchange per job) against one API
 * and one Redis, with 1, 2, 4 … N workers of the model (N: the machine's cores), each worker given
 * an equal share of the cores for its intra-op threads. Reports jobs/s, the efficiency of each
 * added worker (jobs/s ÷ (workers × jobs/s with one)), and which process was busiest, so the
 * table shows where the limit moves. Runs unchanged on a bigger machine.
 */
export async function scaleOut(stack: BenchStack, s: Settings, counts = workerCounts()): Promise<ScenarioResult> {
  const api = stack.api ?? (await stack.startApi());
  const cores = os.availableParallelism();
  const rows: ScenarioResult['rows'] = [];
  const notes: string[] = [];
  const summary: Record<string, number> = {};
  for (const workload of WORKLOADS) {
    let single = 0;
    for (const n of counts) {
      await stack.flush();
      const names = Array.from({ length: n }, (_, i) => `${workload.model}#${i}`);
      const intraOpThreads = Math.max(1, Math.floor(cores / n));
      await Promise.all(names.map((name) => stack.startWorker(workload.model, { name, intraOpThreads })));
      const plan = { ...closedLoopPlan(s, stack.apiUrl, '/v1/jobs', true, 30), body: workload.body };
      const run = await measureLoad(stack, plan, api);
      for (const name of names) await stack.stopWorker(name);
      const perSecond = run.result.perSecond;
      if (n === 1) single = perSecond;
      const efficiency = single > 0 ? perSecond / (n * single) : Number.NaN;
      rows.push({
        metric: `${workload.label}, ${n} worker${n === 1 ? '' : 's'} (${intraOpThreads} intra-op threads each)`,
        value: perSecond,
        unit: 'jobs/s',
        ...(n > 1 ? { baseline: { name: '1 worker', value: single }, ratio: perSecond / single } : {}),
      });
      notes.push(`${workload.label}, ${n} worker(s): ${Math.round(perSecond * workload.rows)} rows/s, efficiency per worker ${efficiency.toFixed(2)}, p50/p99 ${run.result.latencyMs.p50.toFixed(1)}/${run.result.latencyMs.p99.toFixed(1)} ms, busiest ${busiest(run.cpu)}; cores: ${describeCores(run.cpu)}; Redis commands per job ${run.commands.text}.`);
      summary[`scale_out_${workload.model.replace(/-/g, '_')}_${n}w_jobs_per_s`] = perSecond;
    }
  }
  return {
    id: '8',
    title: `scale-out: 1 to ${counts.at(-1)} workers against one API and one Redis (${s.concurrency} closed-loop clients, Prefer: wait)`,
    rows,
    notes,
    summary,
  };
}

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

/** A process whose main thread is this busy (in cores) is what bounds the run. */
const SATURATED_THREAD = 0.9;
/**
 * The machine counts as full when this share of all its cores is busy (ours and others'): on a
 * few cores shared by four busy processes, the rest is lost to hand-offs between them.
 */
const SATURATED_MACHINE = 0.8;
/** Processes that do their work on one thread: the API, Redis, the load generator. */
const SINGLE_THREADED = ['api', 'redis', 'load generator + bench'];

/**
 * Where the limit of one window sits, from the CPU each part used: a single-threaded process (the
 * API, Redis, the load generator) at a full core, or else the machine's cores all but full (then
 * its biggest user is named), or else neither, and the run is bounded by latency (the closed-loop
 * clients wait for each job before sending the next).
 */
export function limitOf(cpu: CpuShare): string {
  const cores = os.availableParallelism();
  const busy = `${Math.round((cpu.ours + cpu.foreign) * 100)} % of ${cores} cores busy${cpu.foreign >= 0.1 ? `, ${Math.round(cpu.foreign * 100)} % by other processes` : ''}`;
  const used = Object.entries(cpu.cores).sort((a, b) => b[1] - a[1]);
  const thread = used.find(([name, c]) => SINGLE_THREADED.includes(name) && c >= SATURATED_THREAD);
  if (thread) return `${thread[0]}: ${thread[1].toFixed(2)} cores, its one thread full (${busy})`;
  const [name, c] = used[0] ?? ['?', 0];
  if (cpu.ours + cpu.foreign >= SATURATED_MACHINE) return `the machine's cores (${busy}; most: ${name} ${c.toFixed(2)})`;
  return `latency: the clients wait for each job, no process is full (${busy}; most: ${name} ${c.toFixed(2)})`;
}

/** One measured step: a workload at one worker count. */
export interface ScaleStep {
  workload: string;
  workers: number;
  intraOpThreads: number;
  clients: number;
  jobsPerSecond: number;
  rowsPerSecond: number;
  /** jobs/s ÷ (workers × jobs/s of one worker): 1 is linear scaling. */
  efficiency: number;
  /** What the workers added since the previous step gave, per added worker, as a share of one worker's jobs/s. */
  addedWorkerEfficiency: number;
  cores: Record<string, number>;
  limit: string;
}

/**
 * Scale-out: closed-loop clients (`Prefer: wait`, one exchange per job), `s.concurrency` of them
 * per worker so each worker is offered the same load at every step, against one API and one
 * Redis, with 1, 2, 4 … N workers of the model (N: the machine's cores), each worker given an
 * equal share of the cores for its intra-op threads. Reports jobs/s, the efficiency of the
 * workers (jobs/s ÷ (workers × jobs/s with one)) and of each added one, and where the limit sits
 * (limitOf), so the table shows where it moves. Runs unchanged on a bigger machine.
 */
export async function scaleOut(stack: BenchStack, s: Settings, counts = workerCounts()): Promise<ScenarioResult & { details: ScaleStep[] }> {
  const api = stack.api ?? (await stack.startApi());
  const cores = os.availableParallelism();
  const rows: ScenarioResult['rows'] = [];
  const notes: string[] = [];
  const summary: Record<string, number> = {};
  const steps: ScaleStep[] = [];
  for (const workload of WORKLOADS) {
    let single = 0;
    let previous: { workers: number; jobsPerSecond: number } | undefined;
    for (const n of counts) {
      await stack.flush();
      const names = Array.from({ length: n }, (_, i) => `${workload.model}#${i}`);
      const intraOpThreads = Math.max(1, Math.floor(cores / n));
      const clients = s.concurrency * n;
      await Promise.all(names.map((name) => stack.startWorker(workload.model, { name, intraOpThreads })));
      const plan = { ...closedLoopPlan({ ...s, concurrency: clients }, stack.apiUrl, '/v1/jobs', true, 30), body: workload.body };
      const run = await measureLoad(stack, plan, api);
      for (const name of names) await stack.stopWorker(name);
      const perSecond = run.result.perSecond;
      if (n === 1) single = perSecond;
      const step: ScaleStep = {
        workload: workload.label,
        workers: n,
        intraOpThreads,
        clients,
        jobsPerSecond: perSecond,
        rowsPerSecond: perSecond * workload.rows,
        efficiency: single > 0 ? perSecond / (n * single) : Number.NaN,
        addedWorkerEfficiency: previous && single > 0 ? (perSecond - previous.jobsPerSecond) / ((n - previous.workers) * single) : Number.NaN,
        cores: run.cpu.cores,
        limit: limitOf(run.cpu),
      };
      steps.push(step);
      previous = { workers: n, jobsPerSecond: perSecond };
      rows.push({
        metric: `${workload.label}, ${n} worker${n === 1 ? '' : 's'} (${intraOpThreads} intra-op thread${intraOpThreads === 1 ? '' : 's'} each, ${clients} clients)`,
        value: perSecond,
        unit: 'jobs/s',
        ...(n > 1 ? { baseline: { name: '1 worker', value: single }, ratio: perSecond / single } : {}),
      });
      const added = Number.isNaN(step.addedWorkerEfficiency) ? '' : `, per added worker ${step.addedWorkerEfficiency.toFixed(2)}`;
      notes.push(
        `${workload.label}, ${n} worker(s): ${Math.round(step.rowsPerSecond)} rows/s, efficiency ${step.efficiency.toFixed(2)}${added}, p50/p99 ${run.result.latencyMs.p50.toFixed(1)}/${run.result.latencyMs.p99.toFixed(1)} ms; limit: ${step.limit}; cores: ${describeCores(run.cpu)}; Redis commands per job ${run.commands.text}.`,
      );
      const key = `scale_out_${workload.model.replace(/-/g, '_')}_${n}w`;
      summary[`${key}_jobs_per_s`] = perSecond;
      summary[`${key}_efficiency`] = step.efficiency;
    }
  }
  return {
    id: '8',
    title: `scale-out: 1 to ${counts.at(-1)} workers against one API and one Redis (${s.concurrency} closed-loop clients per worker, Prefer: wait)`,
    rows,
    notes,
    summary,
    details: steps,
  };
}

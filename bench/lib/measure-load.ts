import type { ServiceProcess } from '../../test/support/services.ts';
import { measureQuietly, type CpuShare } from './cpu-share.ts';
import { runLoad, type LoadPlan, type LoadResult } from './load.ts';
import type { Settings } from './settings.ts';
import { commandsPerJob, type BenchStack, type CommandTally, type LagWindow } from './stack.ts';
import { fraudJob } from './workloads.ts';

/**
 * Scenario 1's client: `s.concurrency` closed-loop clients sending single-row fraud-risk jobs,
 * each job submitted and (with `awaitResult`) long-polled to its end, or submitted with
 * `Prefer: wait=N` when `preferWaitSeconds` is given.
 */
export function closedLoopPlan(s: Settings, baseUrl: string, path: string, awaitResult: boolean, preferWaitSeconds?: number): LoadPlan {
  return {
    baseUrl,
    path,
    body: fraudJob,
    mode: 'closed',
    concurrency: s.concurrency,
    warmupMs: s.warmupMs,
    durationMs: s.throughputMs,
    awaitResult,
    ...(preferWaitSeconds ? { preferWaitSeconds } : {}),
  };
}

export interface MeasuredLoad {
  result: LoadResult;
  /** The API's event-loop lag over the run, when an inferq API was given. */
  lag: LagWindow | undefined;
  /** Per job answered with 200 or 202, over the whole run, warm-up included. */
  commands: CommandTally;
  cpu: CpuShare;
}

/** Runs a load plan while others leave the machine alone, counting Redis commands per job. */
export async function measureLoad(stack: BenchStack, plan: LoadPlan, api?: ServiceProcess): Promise<MeasuredLoad> {
  const { value, cpu } = await measureQuietly(async () => {
    const calls = await stack.commandCalls();
    if (api) await stack.lagWindow(api);
    const result = await runLoad(plan);
    const lag = api ? await stack.lagWindow(api) : undefined;
    const completed = Object.entries(result.statuses).reduce((sum, [k, n]) => sum + (/ 20[02]/.test(k) ? n : 0), 0);
    return { result, lag, commands: commandsPerJob(calls, await stack.commandCalls(), completed) };
  });
  return { ...value, cpu };
}

import { measureLoad, closedLoopPlan, type MeasuredLoad } from '../lib/measure-load.ts';
import { startPlainStack } from '../lib/plain-stack.ts';
import type { Settings } from '../lib/settings.ts';
import type { BenchStack } from '../lib/stack.ts';

/** The worker concurrencies the plain stack is measured at; the faster one is the baseline. */
export const PLAIN_WORKER_CONCURRENCIES = [1, 16] as const;

export interface PlainStackRun {
  workerConcurrency: number;
  /** POST, then GET poll_url?wait=30. */
  poll: MeasuredLoad;
  /** POST with Prefer: wait=30. */
  preferWait: MeasuredLoad;
}

export interface PlainStackBaseline {
  runs: PlainStackRun[];
  /** The run with the most completed jobs per second, for each way of waiting. */
  bestPoll: PlainStackRun;
  bestPreferWait: PlainStackRun;
}

/**
 * Scenario 1's user-written baseline: the plain Hono + BullMQ stack under the same client as
 * inferq, at each worker concurrency. Each stack is stopped and its keys flushed before the
 * next one (or inferq) starts.
 */
export async function plainStackBaseline(stack: BenchStack, s: Settings): Promise<PlainStackBaseline> {
  const runs: PlainStackRun[] = [];
  for (const workerConcurrency of PLAIN_WORKER_CONCURRENCIES) {
    const plain = await startPlainStack(stack, workerConcurrency);
    try {
      const poll = await measureLoad(stack, closedLoopPlan(s, plain.url, '/v1/jobs', true));
      const preferWait = await measureLoad(stack, closedLoopPlan(s, plain.url, '/v1/jobs', true, 30));
      runs.push({ workerConcurrency, poll, preferWait });
    } finally {
      await plain.stop();
      await stack.flush();
    }
  }
  const best = (pick: (run: PlainStackRun) => MeasuredLoad) => runs.reduce((a, b) => (pick(b).result.perSecond > pick(a).result.perSecond ? b : a));
  return { runs, bestPoll: best((r) => r.poll), bestPreferWait: best((r) => r.preferWait) };
}

import type { ScenarioResult } from '../lib/report.ts';
import type { LagWindow } from '../lib/stack.ts';

const GOAL_MS = 20;

/**
 * Scenario 7: the worker main thread's event-loop lag, measured by the preloaded probe over each
 * wide-mlp drain (scenarios 2 and 3), when inference saturates the machine. The worse one counts.
 */
export function workerLoopLag(windows: { label: string; lag: LagWindow }[]): ScenarioResult {
  const p99 = Math.max(...windows.map((w) => w.lag.p99_ms));
  return {
    id: '7',
    title: 'worker event-loop lag while wide-mlp inference saturates the machine',
    rows: [
      ...windows.map((w) => ({ metric: `p99 lag, ${w.label}`, value: w.lag.p99_ms, unit: 'ms' })),
      { metric: 'p99 lag, worst window', value: p99, unit: 'ms', goal: `< ${GOAL_MS} ms`, pass: p99 < GOAL_MS },
    ],
    notes: windows.map((w) => `${w.label}: p50 ${w.lag.p50_ms.toFixed(2)} ms, max ${w.lag.max_ms.toFixed(1)} ms, ${w.lag.samples} samples (1 ms resolution).`),
    details: windows,
    summary: { worker_loop_lag_p99_ms: p99 },
  };
}

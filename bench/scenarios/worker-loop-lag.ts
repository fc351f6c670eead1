import type { ScenarioResult } from '../lib/report.ts';
import type { LagWindow } from '../lib/stack.ts';

const GOAL_MS = 20;

export interface LagRecord {
  label: string;
  lag: LagWindow;
  /** Measured with other settings (the old thread defaults): shown beside, not held to the goal. */
  baseline?: boolean;
}

/**
 * Scenario 7: the worker main thread's event-loop lag, measured by the preloaded probe over each
 * drain (scenarios 2 and 3), while inference saturates the machine. The worse window with the
 * defaults counts; windows with the old thread defaults are listed beside them.
 */
export function workerLoopLag(windows: LagRecord[]): ScenarioResult {
  const counted = windows.filter((w) => !w.baseline);
  const p99 = Math.max(...counted.map((w) => w.lag.p99_ms));
  const old = windows.filter((w) => w.baseline);
  return {
    id: '7',
    title: 'worker event-loop lag while inference saturates the machine',
    rows: [
      ...windows.map((w) => ({ metric: `p99 lag, ${w.label}`, value: w.lag.p99_ms, unit: 'ms' })),
      { metric: 'p99 lag, worst window (defaults)', value: p99, unit: 'ms', goal: `< ${GOAL_MS} ms`, pass: p99 < GOAL_MS },
      ...(old.length > 0 ? [{ metric: 'p99 lag, worst window (old thread defaults)', value: Math.max(...old.map((w) => w.lag.p99_ms)), unit: 'ms' }] : []),
    ],
    notes: windows.map((w) => `${w.label}: p50 ${w.lag.p50_ms.toFixed(2)} ms, max ${w.lag.max_ms.toFixed(1)} ms, ${w.lag.samples} samples (1 ms resolution).`),
    details: windows,
    summary: { worker_loop_lag_p99_ms: p99, ...(old.length > 0 ? { worker_loop_lag_p99_ms_old_thread_defaults: Math.max(...old.map((w) => w.lag.p99_ms)) } : {}) },
  };
}

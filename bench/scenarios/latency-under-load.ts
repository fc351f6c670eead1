import { describeCores, measureQuietly, worse, type CpuShare } from '../lib/cpu-share.ts';
import { runLoad, type LoadResult } from '../lib/load.ts';
import type { Row, ScenarioResult } from '../lib/report.ts';
import type { Settings } from '../lib/settings.ts';
import type { BenchStack, LagWindow } from '../lib/stack.ts';
import { round } from '../lib/stats.ts';
import { fraudJob, servedVersion } from '../lib/workloads.ts';

/**
 * Scenario 4: open-loop arrivals (a fixed rate, whatever the answers) at fractions of scenario 1's
 * saturation, each job long-polled to its result. Latency counts from the arrival's scheduled
 * time, so a client that falls behind does not hide queueing.
 */
export async function latencyUnderLoad(stack: BenchStack, s: Settings, saturationPerSecond: number): Promise<ScenarioResult> {
  const { maxWaitMs } = servedVersion('fraud-risk');
  const rows: Row[] = [];
  const levels: (LoadResult & { fraction: number; rate: number; cpu: CpuShare; apiLag: LagWindow; attempts: number })[] = [];
  const api = stack.api;
  if (!api) throw new Error('latency under load needs the API running');
  let cpu: CpuShare | undefined;
  for (const fraction of s.levels) {
    const rate = fraction * saturationPerSecond;
    const level = await measureQuietly(async () => {
      await stack.lagWindow(api);
      const load = await runLoad({ baseUrl: stack.apiUrl, path: '/v1/jobs', body: fraudJob, mode: 'open', ratePerS: rate, maxInFlight: 4_000, durationMs: s.levelMs, awaitResult: true, drainMs: 20_000 });
      return { load, apiLag: await stack.lagWindow(api) };
    });
    const load = level.value.load;
    cpu = worse(cpu, level.cpu);
    levels.push({ ...load, fraction, rate, cpu: level.cpu, apiLag: level.value.apiLag, attempts: level.attempts });
    const label = `${Math.round(fraction * 100)} % (${Math.round(rate)}/s)`;
    rows.push({ metric: `p50 submit-to-result at ${label}`, value: load.latencyMs.p50, unit: 'ms' });
    rows.push({ metric: `p99 submit-to-result at ${label}`, value: load.latencyMs.p99, unit: 'ms' });
  }
  const half = levels.find((l) => l.fraction === 0.5) ?? levels[Math.floor(levels.length / 2)];
  const p99At50 = half?.latencyMs.p99 ?? Number.NaN;
  const inferenceMs = half?.inferenceMs.p50 ?? Number.NaN;
  const bound = maxWaitMs + 2 * inferenceMs + 10;
  rows.push({
    metric: 'p99 at 50 % vs max_wait_ms + 2 × batch inference + 10 ms',
    value: p99At50,
    unit: 'ms',
    goal: `≤ ${round(bound, 1)} ms`,
    pass: p99At50 <= bound,
  });
  return {
    id: '4',
    title: 'latency under open-loop load, fraud-risk single-row jobs (POST + long-poll)',
    rows,
    ...(cpu ? { cpu } : {}),
    notes: [
      `bound = max_wait_ms ${maxWaitMs} + 2 × median batch inference ${inferenceMs.toFixed(2)} ms (timings.inference_ms at 50 %) + 10 ms = ${bound.toFixed(1)} ms.`,
      ...levels.map((l) => `${Math.round(l.fraction * 100)} %: offered ${l.offeredPerSecond.toFixed(0)}/s, completed ${l.completed}, dropped ${l.dropped}, unfinished ${l.unfinished}, errors ${l.errors}, mean rows/run ${l.batchSize.mean.toFixed(1)}; p99 enqueue-to-pickup ${l.queueMs.p99.toFixed(0)} ms, p99 created-to-finished (worker) ${l.workerTotalMs.p99.toFixed(0)} ms; API event-loop lag p99 ${l.apiLag.p99_ms.toFixed(1)} ms, max ${l.apiLag.max_ms.toFixed(0)} ms; load generator's own lag p99 ${l.clientLagP99Ms.toFixed(1)} ms; cores: ${describeCores(l.cpu)}; others used ${Math.round(l.cpu.foreign * 100)} % of the machine${l.attempts > 1 ? ` (best of ${l.attempts} attempts)` : ''}.`),
    ],
    details: { maxWaitMs, bound, levels },
    summary: { p99_submit_to_result_ms_at_50pct: p99At50, p99_bound_ms_at_50pct: bound },
  };
}

import { describeCores, startCpuShare, waitForQuiet } from '../lib/cpu-share.ts';
import { runLoad } from '../lib/load.ts';
import { rssMb, sampleRss } from '../lib/processes.ts';
import type { ScenarioResult } from '../lib/report.ts';
import type { Settings } from '../lib/settings.ts';
import type { BenchStack } from '../lib/stack.ts';
import { sleep, summarize } from '../lib/stats.ts';
import { fraudJob } from '../lib/workloads.ts';

/** A bench-chosen ceiling: the API should fit a 512 MiB container however hard it is pushed. */
const RSS_LIMIT_MB = 512;
const HEALTHZ_TIMEOUT_MS = 1_000;

/** /healthz from this (lightly loaded) process, so the load generator's own lag is not counted. */
function probeHealth(baseUrl: string): { stop(): Promise<{ latencies: number[]; failures: number }> } {
  const latencies: number[] = [];
  let failures = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const t0 = performance.now();
      try {
        const res = await fetch(`${baseUrl}/healthz`, { signal: AbortSignal.timeout(HEALTHZ_TIMEOUT_MS) });
        await res.arrayBuffer();
        if (res.status === 200) latencies.push(performance.now() - t0);
        else failures += 1;
      } catch {
        failures += 1;
      }
      await sleep(100);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { latencies, failures };
    },
  };
}

/**
 * Scenario 6, overload part: arrivals at 10× scenario 1's saturation for a few seconds (each job
 * submitted and long-polled, as real clients would), with the API's RSS sampled and /healthz
 * timed throughout. Waits for the backlog to drain before returning.
 */
export async function overload(stack: BenchStack, s: Settings, saturationPerSecond: number, restRssMb: number): Promise<ScenarioResult> {
  const api = stack.api;
  if (!api?.child.pid) throw new Error('overload needs the API running');
  const target = 10 * saturationPerSecond;
  await waitForQuiet();
  const share = startCpuShare();
  const rss = sampleRss(api.child.pid);
  const health = probeHealth(stack.apiUrl);
  await stack.lagWindow(api);
  const load = await runLoad({ baseUrl: stack.apiUrl, path: '/v1/jobs', body: fraudJob, mode: 'open', ratePerS: target, maxInFlight: s.overloadInFlight, durationMs: s.overloadMs, awaitResult: true, drainMs: 2_000 });
  const apiLag = await stack.lagWindow(api);
  const { latencies, failures } = await health.stop();
  const peak = summarize(rss.stop()).max;
  const cpu = share.stop();
  const drainStart = performance.now();
  const drained = await stack.waitForDrain('fraud-risk', 180_000);
  const drainMs = performance.now() - drainStart;
  await sleep(2_000);
  const afterMb = rssMb(api.child.pid);
  const healthz = summarize(latencies);
  const responsive = failures === 0 && healthz.p99 < HEALTHZ_TIMEOUT_MS;
  return {
    id: '6',
    title: `memory under 10× overload (${Math.round(target)} arrivals/s target, ${s.overloadMs / 1000} s, fraud-risk POST + long-poll)`,
    rows: [
      { metric: 'offered arrivals (load generator bound)', value: load.offeredPerSecond, unit: 'jobs/s', baseline: { name: 'saturation', value: saturationPerSecond }, ratio: load.offeredPerSecond / saturationPerSecond },
      { metric: 'API RSS peak under overload', value: peak, unit: 'MiB', baseline: { name: 'at rest', value: restRssMb }, ratio: peak / restRssMb, goal: `≤ ${RSS_LIMIT_MB} MiB`, pass: peak <= RSS_LIMIT_MB },
      { metric: 'API RSS after the backlog drained', value: afterMb, unit: 'MiB' },
      { metric: `/healthz p99 during overload (${failures} of ${healthz.count + failures} probes failed)`, value: healthz.p99, unit: 'ms', goal: `< ${HEALTHZ_TIMEOUT_MS} ms, no failures`, pass: responsive },
      { metric: '/healthz max during overload', value: healthz.max, unit: 'ms' },
    ],
    cpu,
    notes: [
      `overload: offered ${load.offered}, dropped at the client's ${s.overloadInFlight} in-flight cap ${load.dropped}, completed ${load.completed}, unfinished when cut off ${load.unfinished}, client errors ${load.errors}; statuses ${JSON.stringify(load.statuses)}.`,
      `cores used during the overload: ${describeCores(cpu)}; API event-loop lag p99 ${apiLag.p99_ms.toFixed(1)} ms, max ${apiLag.max_ms.toFixed(0)} ms; API memory at the end of the overload: RSS ${apiLag.rss_mb} MiB, V8 heap ${apiLag.heap_used_mb}/${apiLag.heap_total_mb} MiB used/total, external ${apiLag.external_mb} MiB.`,
      `/healthz: ${healthz.count} answers, ${failures} failures (timeout ${HEALTHZ_TIMEOUT_MS} ms); backlog ${drained ? `drained ${(drainMs / 1000).toFixed(1)} s after the overload` : 'NOT drained within 180 s'}.`,
    ],
    details: { target, load, healthz, failures, apiLag, peakRssMb: peak, afterRssMb: afterMb, drainMs },
    summary: { api_rss_overload_peak_mb: peak, healthz_p99_ms_overload: healthz.p99 },
  };
}

import { freePort } from '../../scripts/lib/local-redis.ts';
import type { ServiceProcess } from '../../test/support/services.ts';
import { describeCores, measureQuietly, worse } from '../lib/cpu-share.ts';
import { runLoad, type LoadPlan } from '../lib/load.ts';
import { rssMb, sampleRss, spawnScript } from '../lib/processes.ts';
import type { ScenarioResult } from '../lib/report.ts';
import type { Settings } from '../lib/settings.ts';
import { commandsPerJob, type BenchStack, type LagWindow } from '../lib/stack.ts';
import { sleep, summarize } from '../lib/stats.ts';
import { fraudJob } from '../lib/workloads.ts';

export interface E2eOutcome {
  result: ScenarioResult;
  /** Completed jobs per second at saturation: scenarios 4 and 6 load relative to it. */
  saturationPerSecond: number;
  restRssMb: number;
}

/**
 * Scenario 1 (and the RSS part of 6): single-row fraud-risk jobs from fixed-concurrency clients,
 * each submitting and long-polling its job, then each submitting with `Prefer: wait` (one
 * exchange per job), against a bare queue.add endpoint on the same Redis.
 * Leaves the API and a fraud-risk worker running for scenarios 4 and 6.
 */
export async function e2eThroughput(stack: BenchStack, s: Settings): Promise<E2eOutcome> {
  const plan = (baseUrl: string, path: string, awaitResult: boolean, preferWaitSeconds?: number): LoadPlan => ({
    baseUrl,
    path,
    body: fraudJob,
    mode: 'closed',
    concurrency: s.concurrency,
    warmupMs: s.warmupMs,
    durationMs: s.throughputMs,
    awaitResult,
    ...(preferWaitSeconds ? { preferWaitSeconds } : {}),
  });
  // Redis commands are counted over the whole run, warm-up included, against the jobs it completed.
  const measure = async (p: LoadPlan, api?: ServiceProcess) => {
    const { value, cpu } = await measureQuietly(async () => {
      const calls = await stack.commandCalls();
      if (api) await stack.lagWindow(api);
      const result = await runLoad(p);
      const lag = api ? await stack.lagWindow(api) : undefined;
      const completed = Object.entries(result.statuses).reduce((sum, [k, n]) => sum + (/ 20[02]/.test(k) ? n : 0), 0);
      return { result, lag, commands: commandsPerJob(calls, await stack.commandCalls(), completed) };
    });
    return { ...value, cpu };
  };

  // The baseline runs first, alone, and its jobs are flushed before the real stack starts.
  const port = await freePort();
  const bareServer = spawnScript('children/bare-enqueue-server.ts', [JSON.stringify({ redisUrl: stack.redis.url, port })]);
  await bareServer.waitForLine((l) => l.includes('"ready"'));
  const bare = await measure(plan(`http://127.0.0.1:${port}`, '/enqueue', false));
  const bareLoad = bare.result;
  await bareServer.stop();
  await stack.flush();

  await stack.startWorker('fraud-risk');
  const api = await stack.startApi();
  const pid = api.child.pid as number;
  await sleep(2_000);
  const restRssMb = rssMb(pid);
  const rest = await stack.lagWindow(api);
  const rss = sampleRss(pid);
  const run = await measure(plan(stack.apiUrl, '/v1/jobs', true), api);
  const e2e = run.result;
  const apiLag = run.lag as LagWindow;
  const loadRss = summarize(rss.stop());
  // The same jobs submitted with Prefer: wait=30, answered in one exchange when they end in time.
  const oneCall = await measure(plan(stack.apiUrl, '/v1/jobs', true, 30), api);
  const preferWait = oneCall.result;

  const ratio = e2e.perSecond / bareLoad.perSecond;
  const preferRatio = preferWait.perSecond / bareLoad.perSecond;
  return {
    saturationPerSecond: e2e.perSecond,
    restRssMb,
    result: {
      id: '1',
      title: `end-to-end throughput, fraud-risk single-row jobs, ${s.concurrency} closed-loop clients (POST + long-poll, then POST with Prefer: wait)`,
      rows: [
        { metric: 'bare queue.add endpoint', value: bareLoad.perSecond, unit: 'jobs/s' },
        { metric: 'e2e completed', value: e2e.perSecond, unit: 'jobs/s', baseline: { name: 'bare enqueue', value: bareLoad.perSecond }, ratio, goal: '≥ 0.6× bare enqueue', pass: ratio >= 0.6 },
        { metric: 'e2e submit-to-result p50', value: e2e.latencyMs.p50, unit: 'ms' },
        { metric: 'e2e submit-to-result p99', value: e2e.latencyMs.p99, unit: 'ms' },
        { metric: 'e2e completed, POST with Prefer: wait=30 (one exchange)', value: preferWait.perSecond, unit: 'jobs/s', baseline: { name: 'bare enqueue', value: bareLoad.perSecond }, ratio: preferRatio, goal: '≥ 0.6× bare enqueue', pass: preferRatio >= 0.6 },
        { metric: 'e2e Prefer: wait submit-to-result p50', value: preferWait.latencyMs.p50, unit: 'ms' },
        { metric: 'e2e Prefer: wait submit-to-result p99', value: preferWait.latencyMs.p99, unit: 'ms' },
        { metric: 'rows per session.run (mean)', value: e2e.batchSize.mean, unit: 'rows' },
        { metric: 'API RSS at rest (6)', value: restRssMb, unit: 'MiB' },
        { metric: 'API RSS under scenario 1, peak (6)', value: loadRss.max, unit: 'MiB', baseline: { name: 'at rest', value: restRssMb }, ratio: loadRss.max / restRssMb },
      ],
      cpu: worse(worse(bare.cpu, run.cpu), oneCall.cpu),
      notes: [
        `cores used during bare: ${describeCores(bare.cpu)}; during e2e: ${describeCores(run.cpu)}; during e2e with Prefer: wait: ${describeCores(oneCall.cpu)}.`,
        `Redis commands per job (calls inside Lua scripts included), bare: ${bare.commands}; e2e: ${run.commands}; Prefer: wait: ${oneCall.commands}.`,
        `bare: ${JSON.stringify(bareLoad.statuses)}, ${bareLoad.errors} client errors; e2e: ${JSON.stringify(e2e.statuses)}, ${e2e.errors} client errors; Prefer: wait: ${JSON.stringify(preferWait.statuses)}, ${preferWait.errors} client errors.`,
        `API memory at rest: RSS ${rest.rss_mb} MiB, V8 heap ${rest.heap_used_mb}/${rest.heap_total_mb} MiB used/total, external ${rest.external_mb} MiB; after e2e: RSS ${apiLag.rss_mb}, heap ${apiLag.heap_used_mb}/${apiLag.heap_total_mb}, external ${apiLag.external_mb} MiB.`,
        `e2e p50/p99 inference_ms per batch: ${e2e.inferenceMs.p50.toFixed(2)}/${e2e.inferenceMs.p99.toFixed(2)} ms; p50/p99 enqueue-to-pickup ${e2e.queueMs.p50.toFixed(0)}/${e2e.queueMs.p99.toFixed(0)} ms; API event-loop lag p50/p99/max ${apiLag.p50_ms.toFixed(1)}/${apiLag.p99_ms.toFixed(1)}/${apiLag.max_ms.toFixed(0)} ms.`,
      ],
      details: { bare: bareLoad, e2e, preferWait, apiLag, apiRss: { restMb: restRssMb, underLoad: loadRss } },
      summary: {
        e2e_jobs_per_s: e2e.perSecond,
        bare_enqueue_per_s: bareLoad.perSecond,
        e2e_ratio: ratio,
        e2e_prefer_wait_jobs_per_s: preferWait.perSecond,
        e2e_prefer_wait_ratio: preferRatio,
        e2e_p50_ms: e2e.latencyMs.p50,
        e2e_p99_ms: e2e.latencyMs.p99,
        api_rss_rest_mb: restRssMb,
        api_rss_mb: loadRss.max,
      },
    },
  };
}

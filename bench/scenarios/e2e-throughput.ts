import { freePort } from '../../scripts/lib/local-redis.ts';
import { describeCores, worse } from '../lib/cpu-share.ts';
import { closedLoopPlan, measureLoad } from '../lib/measure-load.ts';
import { rssMb, sampleRss, spawnScript } from '../lib/processes.ts';
import type { ScenarioResult } from '../lib/report.ts';
import type { Settings } from '../lib/settings.ts';
import type { BenchStack, LagWindow } from '../lib/stack.ts';
import { sleep, summarize } from '../lib/stats.ts';
import { plainStackBaseline } from './plain-stack-baseline.ts';

export interface E2eOutcome {
  result: ScenarioResult;
  /** Completed jobs per second at saturation: scenarios 4 and 6 load relative to it. */
  saturationPerSecond: number;
  restRssMb: number;
}

/** Redis commands per request inferq may spend at saturation (issue 11). */
const MAX_COMMANDS_PER_REQUEST = 12;

/**
 * Scenario 1 (and the RSS part of 6): single-row fraud-risk jobs from fixed-concurrency clients,
 * each submitting and long-polling its job, then each submitting with `Prefer: wait` (one
 * exchange per job), against two baselines on the same Redis: a bare queue.add endpoint, and
 * the plain Hono + BullMQ stack a user would write (its better worker concurrency counts).
 * Leaves the API and a fraud-risk worker running for scenarios 4 and 6.
 */
export async function e2eThroughput(stack: BenchStack, s: Settings): Promise<E2eOutcome> {
  // The baselines run first, alone, and their jobs are flushed before the real stack starts.
  const port = await freePort();
  const bareServer = spawnScript('children/bare-enqueue-server.ts', [JSON.stringify({ redisUrl: stack.redis.url, port })]);
  await bareServer.waitForLine((l) => l.includes('"ready"'));
  const bare = await measureLoad(stack, closedLoopPlan(s, `http://127.0.0.1:${port}`, '/enqueue', false));
  const bareLoad = bare.result;
  await bareServer.stop();
  await stack.flush();
  const plain = await plainStackBaseline(stack, s);
  const plainPoll = plain.bestPoll.poll.result;
  const plainPreferWait = plain.bestPreferWait.preferWait.result;

  await stack.startWorker('fraud-risk');
  const api = await stack.startApi();
  const pid = api.child.pid as number;
  await sleep(2_000);
  const restRssMb = rssMb(pid);
  const rest = await stack.lagWindow(api);
  const rss = sampleRss(pid);
  const run = await measureLoad(stack, closedLoopPlan(s, stack.apiUrl, '/v1/jobs', true), api);
  const e2e = run.result;
  const apiLag = run.lag as LagWindow;
  const loadRss = summarize(rss.stop());
  // The same jobs submitted with Prefer: wait=30, answered in one exchange when they end in time.
  const oneCall = await measureLoad(stack, closedLoopPlan(s, stack.apiUrl, '/v1/jobs', true, 30), api);
  const preferWait = oneCall.result;

  const ratio = e2e.perSecond / bareLoad.perSecond;
  const preferRatio = preferWait.perSecond / bareLoad.perSecond;
  const plainRatio = e2e.perSecond / plainPoll.perSecond;
  const preferPlainRatio = preferWait.perSecond / plainPreferWait.perSecond;
  const commandsPerRequest = run.commands.total;
  const plainRows = plain.runs.flatMap((r) => [
    { metric: `plain stack (Hono + BullMQ), worker concurrency ${r.workerConcurrency}`, value: r.poll.result.perSecond, unit: 'jobs/s' },
    { metric: `plain stack Prefer: wait=30, worker concurrency ${r.workerConcurrency}`, value: r.preferWait.result.perSecond, unit: 'jobs/s' },
  ]);
  const plainNotes = plain.runs.map(
    (r) =>
      `plain stack at worker concurrency ${r.workerConcurrency}: cores ${describeCores(r.poll.cpu)}; Redis commands per job ${r.poll.commands.text}; ` +
      `Prefer: wait ${r.preferWait.commands.text}; statuses ${JSON.stringify(r.poll.result.statuses)}, ${r.poll.result.errors} client errors; ` +
      `Prefer: wait ${JSON.stringify(r.preferWait.result.statuses)}, ${r.preferWait.result.errors} client errors; p50/p99 ${r.poll.result.latencyMs.p50.toFixed(1)}/${r.poll.result.latencyMs.p99.toFixed(1)} ms.`,
  );
  const plainCpu = plain.runs.flatMap((r) => [r.poll.cpu, r.preferWait.cpu]);
  return {
    saturationPerSecond: e2e.perSecond,
    restRssMb,
    result: {
      id: '1',
      title: `end-to-end throughput, fraud-risk single-row jobs, ${s.concurrency} closed-loop clients (POST + long-poll, then POST with Prefer: wait)`,
      rows: [
        { metric: 'bare queue.add endpoint', value: bareLoad.perSecond, unit: 'jobs/s' },
        ...plainRows,
        { metric: 'e2e completed', value: e2e.perSecond, unit: 'jobs/s', baseline: { name: 'bare enqueue', value: bareLoad.perSecond }, ratio, goal: '≥ 0.6× bare enqueue', pass: ratio >= 0.6 },
        { metric: 'e2e completed vs plain stack', value: e2e.perSecond, unit: 'jobs/s', baseline: { name: `plain stack, worker concurrency ${plain.bestPoll.workerConcurrency}`, value: plainPoll.perSecond }, ratio: plainRatio, goal: '≥ 2× plain stack', pass: plainRatio >= 2 },
        { metric: 'e2e submit-to-result p50', value: e2e.latencyMs.p50, unit: 'ms' },
        { metric: 'e2e submit-to-result p99', value: e2e.latencyMs.p99, unit: 'ms' },
        { metric: 'e2e completed, POST with Prefer: wait=30 (one exchange)', value: preferWait.perSecond, unit: 'jobs/s', baseline: { name: 'bare enqueue', value: bareLoad.perSecond }, ratio: preferRatio, goal: '≥ 0.6× bare enqueue', pass: preferRatio >= 0.6 },
        {
          metric: 'e2e Prefer: wait=30 vs plain stack Prefer: wait=30',
          value: preferWait.perSecond,
          unit: 'jobs/s',
          baseline: { name: `plain stack Prefer: wait, worker concurrency ${plain.bestPreferWait.workerConcurrency}`, value: plainPreferWait.perSecond },
          ratio: preferPlainRatio,
          goal: '≥ 2× plain stack Prefer: wait',
          pass: preferPlainRatio >= 2,
        },
        { metric: 'e2e Prefer: wait submit-to-result p50', value: preferWait.latencyMs.p50, unit: 'ms' },
        { metric: 'e2e Prefer: wait submit-to-result p99', value: preferWait.latencyMs.p99, unit: 'ms' },
        { metric: 'Redis commands per request at saturation (e2e)', value: commandsPerRequest, unit: 'commands', goal: `≤ ${MAX_COMMANDS_PER_REQUEST}`, pass: commandsPerRequest <= MAX_COMMANDS_PER_REQUEST },
        { metric: 'rows per session.run (mean)', value: e2e.batchSize.mean, unit: 'rows' },
        { metric: 'API RSS at rest (6)', value: restRssMb, unit: 'MiB' },
        { metric: 'API RSS under scenario 1, peak (6)', value: loadRss.max, unit: 'MiB', baseline: { name: 'at rest', value: restRssMb }, ratio: loadRss.max / restRssMb },
      ],
      cpu: [bare.cpu, ...plainCpu, run.cpu].reduce((a, b) => worse(a, b), oneCall.cpu),
      notes: [
        `cores used during bare: ${describeCores(bare.cpu)}; during e2e: ${describeCores(run.cpu)}; during e2e with Prefer: wait: ${describeCores(oneCall.cpu)}.`,
        `Redis commands per job (calls inside Lua scripts included), bare: ${bare.commands.text}; e2e: ${run.commands.text}; Prefer: wait: ${oneCall.commands.text}.`,
        `bare: ${JSON.stringify(bareLoad.statuses)}, ${bareLoad.errors} client errors; e2e: ${JSON.stringify(e2e.statuses)}, ${e2e.errors} client errors; Prefer: wait: ${JSON.stringify(preferWait.statuses)}, ${preferWait.errors} client errors.`,
        ...plainNotes,
        `API memory at rest: RSS ${rest.rss_mb} MiB, V8 heap ${rest.heap_used_mb}/${rest.heap_total_mb} MiB used/total, external ${rest.external_mb} MiB; after e2e: RSS ${apiLag.rss_mb}, heap ${apiLag.heap_used_mb}/${apiLag.heap_total_mb}, external ${apiLag.external_mb} MiB.`,
        `e2e p50/p99 inference_ms per batch: ${e2e.inferenceMs.p50.toFixed(2)}/${e2e.inferenceMs.p99.toFixed(2)} ms; p50/p99 enqueue-to-pickup ${e2e.queueMs.p50.toFixed(0)}/${e2e.queueMs.p99.toFixed(0)} ms; API event-loop lag p50/p99/max ${apiLag.p50_ms.toFixed(1)}/${apiLag.p99_ms.toFixed(1)}/${apiLag.max_ms.toFixed(0)} ms.`,
      ],
      details: { bare: bareLoad, plainStack: plain.runs.map((r) => ({ workerConcurrency: r.workerConcurrency, poll: r.poll.result, preferWait: r.preferWait.result })), e2e, preferWait, apiLag, apiRss: { restMb: restRssMb, underLoad: loadRss } },
      summary: {
        e2e_jobs_per_s: e2e.perSecond,
        bare_enqueue_per_s: bareLoad.perSecond,
        e2e_ratio: ratio,
        e2e_prefer_wait_jobs_per_s: preferWait.perSecond,
        e2e_prefer_wait_ratio: preferRatio,
        plain_stack_jobs_per_s: plainPoll.perSecond,
        plain_stack_concurrency: plain.bestPoll.workerConcurrency,
        plain_stack_prefer_wait_jobs_per_s: plainPreferWait.perSecond,
        plain_stack_prefer_wait_concurrency: plain.bestPreferWait.workerConcurrency,
        e2e_plain_ratio: plainRatio,
        e2e_prefer_wait_plain_ratio: preferPlainRatio,
        redis_commands_per_request: commandsPerRequest,
        e2e_p50_ms: e2e.latencyMs.p50,
        e2e_p99_ms: e2e.latencyMs.p99,
        api_rss_rest_mb: restRssMb,
        api_rss_mb: loadRss.max,
      },
    },
  };
}

/**
 * `npm run bench [-- --quick] [-- --profile] [-- --only=throughput,batch-scoring,redis-memory,batching,overhead]`
 *
 * Starts a private redis-server, the API and workers as real processes, drives them from a
 * separate load-generator process, prints a table (absolute numbers and ratios to baselines
 * measured in the same run), writes bench/results/<date>-<mode>.{json,md}, and prints one JSON
 * object as its very last line. Progress goes to stderr so stdout stays the report.
 */
import path from 'node:path';
import { REPO_ROOT, stopAll } from '../test/support/services.ts';
import { setQuietBudget } from './lib/cpu-share.ts';
import { BenchStack } from './lib/stack.ts';
import { goalLines, machineInfo, textTable, writeResults, type ScenarioResult } from './lib/report.ts';
import { SETTINGS } from './lib/settings.ts';
import { round } from './lib/stats.ts';
import { batchScoring } from './scenarios/batch-scoring.ts';
import { batching } from './scenarios/batching.ts';
import { e2eThroughput } from './scenarios/e2e-throughput.ts';
import { latencyUnderLoad } from './scenarios/latency-under-load.ts';
import { overload } from './scenarios/overload.ts';
import { queueOverhead } from './scenarios/queue-overhead.ts';
import { redisMemory } from './scenarios/redis-memory.ts';
import { workerLoopLag, type LagRecord } from './scenarios/worker-loop-lag.ts';

const GROUPS = ['throughput', 'batch-scoring', 'redis-memory', 'batching', 'overhead'] as const;
type Group = (typeof GROUPS)[number];

const args = process.argv.slice(2);
const settings = SETTINGS[args.includes('--quick') ? 'quick' : 'full'];
const onlyArg = args.find((a) => a.startsWith('--only='));
const only = onlyArg ? (onlyArg.slice('--only='.length).split(',') as Group[]) : [...GROUPS];
const unknown = only.filter((g) => !GROUPS.includes(g));
if (unknown.length > 0) {
  console.error(`unknown --only group(s) ${unknown.join(', ')}; known: ${GROUPS.join(', ')}`);
  process.exit(2);
}
const profileDir = args.includes('--profile') ? path.join(REPO_ROOT, 'bench/results/profiles', new Date().toISOString().replace(/:/g, '')) : undefined;
setQuietBudget(settings.quietBudgetMs);

// The keys every run prints, null when not measured, so consumers can rely on the shape.
const SUMMARY_KEYS = [
  'e2e_jobs_per_s',
  'bare_enqueue_per_s',
  'e2e_ratio',
  'plain_stack_jobs_per_s',
  'plain_stack_concurrency',
  'e2e_plain_ratio',
  'plain_stack_prefer_wait_jobs_per_s',
  'plain_stack_prefer_wait_concurrency',
  'e2e_prefer_wait_plain_ratio',
  'redis_commands_per_request',
  'plain_worker_jobs_per_s',
  'batched_jobs_per_s',
  'batching_speedup',
  'raw_ort_items_per_s',
  'worker_items_per_s',
  'raw_ort_ratio',
  'worker_items_per_s_old_thread_defaults',
  'worker_inference_busy',
  'ocr_in_process_lines_per_s',
  'ocr_worker_lines_per_s',
  'ocr_ratio',
  'p99_submit_to_result_ms_at_50pct',
  'api_rss_mb',
  'redis_bytes_per_queued_job',
  'worker_loop_lag_p99_ms',
  'worker_loop_lag_p99_ms_old_thread_defaults',
  'batch_rows_per_s',
];

const progress = (message: string) => process.stderr.write(`[bench ${settings.mode}] ${message}\n`);
const started = performance.now();
const scenarios: ScenarioResult[] = [];

const stack = await BenchStack.start(profileDir ? { profileDir } : {});
let interrupted = false;
process.on('SIGINT', () => {
  if (interrupted) return;
  interrupted = true;
  progress('interrupted: stopping every process this run started');
  void stack.stop().finally(() => stopAll().finally(() => process.exit(130)));
});

/** A failing scenario is reported and the run goes on; its keys stay null. */
async function attempt(title: string, work: () => Promise<void>): Promise<void> {
  progress(`${title}...`);
  const t0 = performance.now();
  try {
    await work();
  } catch (error) {
    progress(`${title} FAILED: ${(error as Error).stack ?? error}`);
    scenarios.push({ id: '!', title: `${title} FAILED`, rows: [], notes: [(error as Error).message] });
  }
  progress(`${title} took ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}

const machine = machineInfo(await stack.redisVersion());
const lagWindows: LagRecord[] = [];
try {
  if (only.includes('throughput')) {
    await attempt('scenarios 1, 4, 6 (throughput, latency, overload)', async () => {
      const e2e = await e2eThroughput(stack, settings);
      scenarios.push(e2e.result);
      progress(`saturation ${e2e.saturationPerSecond.toFixed(0)} jobs/s`);
      scenarios.push(await latencyUnderLoad(stack, settings, e2e.saturationPerSecond));
      scenarios.push(await overload(stack, settings, e2e.saturationPerSecond, e2e.restRssMb));
    });
    await stack.stopWorker('fraud-risk');
  }
  if (!stack.api) await stack.startApi();
  if (only.includes('batch-scoring')) await attempt('scenario 5 (batch scoring file)', async () => void scenarios.push(await batchScoring(stack, settings.batchRows)));
  if (only.includes('redis-memory')) await attempt('scenario 6 (Redis memory per queued job)', async () => void scenarios.push(await redisMemory(stack, settings)));
  if (only.includes('batching')) {
    await attempt('scenario 2 (dynamic batching vs plain worker)', async () => {
      const { result, drain } = await batching(stack, settings);
      scenarios.push(result);
      lagWindows.push({ label: 'single-row jobs (scenario 2)', lag: drain.lag });
    });
  }
  if (only.includes('overhead')) {
    await attempt('scenario 3 (heavy models vs raw onnxruntime: wide-mlp, textline-ocr)', async () => {
      const { result, lagWindows: windows } = await queueOverhead(stack, settings);
      scenarios.push(result);
      lagWindows.push(...windows);
    });
  }
  if (lagWindows.length > 0) scenarios.push(workerLoopLag(lagWindows));
} finally {
  await stack.stop();
}
scenarios.sort((a, b) => a.id.localeCompare(b.id));

const durationS = (performance.now() - started) / 1000;
const measured: Record<string, number | null> = Object.fromEntries(SUMMARY_KEYS.map((k) => [k, null]));
for (const s of scenarios) Object.assign(measured, s.summary);
const goals = goalLines(scenarios);
const summary: Record<string, unknown> = {
  ...Object.fromEntries(Object.entries(measured).map(([k, v]) => [k, v === null || !Number.isFinite(v) ? null : round(v, 3)])),
  goals_passed: goals.filter((g) => g.startsWith('PASS')).length,
  goals_total: goals.length,
  mode: settings.mode,
  duration_s: round(durationS, 0),
};
const files = writeResults(machine, settings.mode, settings, scenarios, summary);

console.log(`inferq bench (${settings.mode}), ${machine.date}: ${machine.cores} cores ${machine.cpuModel}, Node ${machine.node}, Redis ${machine.redis}, ${machine.onnxruntime}, commit ${machine.commit}`);
console.log('');
console.log(textTable(scenarios));
console.log('');
console.log('Goals:');
for (const line of goals) console.log(`  ${line}`);
console.log('');
console.log(`Took ${durationS.toFixed(0)} s. Results: ${files.map((f) => path.relative(process.cwd(), f)).join(', ')}${profileDir ? `; CPU profiles: ${path.relative(process.cwd(), profileDir)}` : ''}`);
console.log(JSON.stringify(summary));

/**
 * `npx tsx bench/prediction-log.ts [--jobs N] [--quick] [--skip-throughput]` (default N = 100,000):
 * the prediction log's cost and completeness, on a quiet machine (the CI test runs a tenth).
 *
 *  1. End-to-end throughput of single-row fraud-risk jobs (closed-loop clients, POST + long-poll,
 *     as scenario 1) with INFERQ_PREDICTION_LOG=false, then =true: the goal is within 10 %.
 *  2. N single jobs (bulk calls of 1,000) and an N-row batch with the log on: every one in the
 *     export exactly once, and Redis bytes per logged prediction (MEMORY USAGE of the stream
 *     divided by its entries; docs/predictions.md quotes it).
 *
 * Prints a table and, last, one JSON line.
 */
import { InferqClient } from '../packages/client/src/inferq-client.ts';
import { SAFE_TRANSACTION } from '../test/support/http.ts';
import { machineInfo } from './lib/report.ts';
import { closedLoopPlan, measureLoad } from './lib/measure-load.ts';
import { SETTINGS } from './lib/settings.ts';
import { BenchStack } from './lib/stack.ts';
import { round, sleep } from './lib/stats.ts';

const args = process.argv.slice(2);
const jobsArg = args.indexOf('--jobs');
const total = jobsArg >= 0 ? Number(args[jobsArg + 1]) : 100_000;
const settings = SETTINGS[args.includes('--quick') ? 'quick' : 'full'];
const progress = (message: string) => process.stderr.write(`[bench prediction-log] ${message}\n`);
const STREAM = 'inferq:predictions:{fraud-risk}';
/** How long the log may stop growing before the missing predictions are reported. */
const STALL_MS = 60_000;

const stack = await BenchStack.start();
const summary: Record<string, number | null> = { log_off_jobs_per_s: null, log_on_jobs_per_s: null, log_on_off_ratio: null, logged_exactly_once: null, redis_bytes_per_logged_prediction: null };
let redisVersion = 'unknown';
try {
  redisVersion = await stack.redisVersion();
  if (!args.includes('--skip-throughput')) {
    for (const log of ['false', 'true'] as const) {
      progress(`throughput with INFERQ_PREDICTION_LOG=${log}...`);
      await stack.startWorker('fraud-risk', { env: { INFERQ_PREDICTION_LOG: log } });
      const api = await stack.startApi({ INFERQ_PREDICTION_LOG: log });
      await sleep(2_000);
      const run = await measureLoad(stack, closedLoopPlan(settings, stack.apiUrl, '/v1/jobs', true), api);
      summary[log === 'true' ? 'log_on_jobs_per_s' : 'log_off_jobs_per_s'] = round(run.result.perSecond);
      progress(`  ${run.result.perSecond.toFixed(0)} jobs/s, Redis commands per job ${run.commands.text}`);
      await api.stop('SIGTERM');
      await stack.stopWorker('fraud-risk');
      await stack.flush();
    }
    summary.log_on_off_ratio = round((summary.log_on_jobs_per_s as number) / (summary.log_off_jobs_per_s as number), 3);
  }

  progress(`${total} single jobs and a ${total}-row batch, log on...`);
  await stack.startWorker('fraud-risk');
  await stack.startApi();
  const client = new InferqClient({ baseUrl: stack.apiUrl, maxRetries: 10 });
  const expected = new Set<string>();
  for (let i = 0; i < total; i += 1000) {
    const jobs = Array.from({ length: Math.min(1000, total - i) }, (_, k) => ({ model: 'fraud-risk', features: { ...SAFE_TRANSACTION, amount: 1 + ((i + k) % 4999) } }));
    for (const item of await client.bulk(jobs)) if ('job_id' in item) expected.add(item.job_id);
  }
  const rows = Array.from({ length: total }, (_, r) => JSON.stringify({ features: { ...SAFE_TRANSACTION, amount: 1 + (r % 4999) } })).join('\n');
  const batch = await client.batches.upload([rows], { model: 'fraud-risk', format: 'ndjson' });
  for (let r = 0; r < total; r++) expected.add(`${batch.batch_id}:${r}`);
  // Until every prediction is logged, or the log stops growing: a prediction that never arrives
  // is reported below, not waited for.
  for (let length = 0, still = 0; length < expected.size && still < STALL_MS; ) {
    await sleep(500);
    const now = await stack.client.xlen(STREAM);
    still = now > length ? 0 : still + 500;
    length = now;
  }
  const seen = new Map<string, number>();
  for await (const p of client.predictions.export({ model: 'fraud-risk', pageSize: 10_000 })) seen.set(p.id, (seen.get(p.id) ?? 0) + 1);
  const missing = [...expected].filter((id) => !seen.has(id));
  const duplicated = [...seen.values()].filter((n) => n > 1).length;
  const once = missing.length === 0 && duplicated === 0 && seen.size === expected.size;
  summary.logged_exactly_once = once ? 1 : 0;
  if (!once) {
    const missingRows = missing.filter((id) => id.startsWith(`${batch.batch_id}:`)).length;
    progress(`  NOT exactly once: ${missing.length} missing (${missing.length - missingRows} jobs, ${missingRows} batch rows), ${duplicated} logged more than once, ${seen.size - (expected.size - missing.length)} not submitted here`);
    process.exitCode = 1;
  }
  const entries = await stack.client.xlen(STREAM);
  const bytes = Number(await stack.client.call('MEMORY', 'USAGE', STREAM, 'SAMPLES', '0'));
  summary.redis_bytes_per_logged_prediction = round(bytes / entries);
  progress(`  ${entries} entries, ${bytes} bytes; every prediction exactly once: ${once}`);
} finally {
  await stack.stop();
}
const machine = machineInfo(redisVersion);
console.log(`inferq bench prediction-log, ${machine.date}: ${machine.cores} cores ${machine.cpuModel}, Node ${machine.node}, Redis ${machine.redis}, commit ${machine.commit}`);
for (const [metric, value] of Object.entries(summary)) console.log(`${metric.padEnd(36)} ${value ?? 'not measured'}`);
console.log(JSON.stringify({ jobs: total, ...summary }));

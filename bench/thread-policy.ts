/**
 * `npx tsx bench/thread-policy.ts [--seconds=4] [--rounds=3] [--main-ms=0.5] [--only='raw|old default|all cores, nice +10|...']`
 *
 * Picks the inference thread policy by measurement: wide-mlp 64-row batches through an
 * InferencePool with each candidate policy, while the main thread does what a worker's does per
 * batch (decode a packed 64-row job, encode its result as JSON) plus `--main-ms` of busy work per
 * batch for BullMQ and Redis I/O, and a 1 ms timer measures its event-loop lag. Beside them,
 * onnxruntime alone in this process (its defaults, inferq's session options, parallel execution).
 * Candidates run interleaved, round after round, so a neighbour's load hits all of them alike;
 * the table gives each one's median over the rounds. Prints the table, then one JSON line.
 */
import os from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import { InferencePool } from '../packages/inference/src/inference-pool.ts';
import { toWire, unpackTensor, type RawTensor } from '../packages/inference/src/tensor-codec.ts';
import { sessionThreadOptions, type ThreadPolicy } from '../packages/inference/src/thread-policy.ts';
import { wideMlpInput } from '../test/support/http.ts';
import { round, summarize } from './lib/stats.ts';
import { servedVersion } from './lib/workloads.ts';

const arg = (name: string, fallback: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const seconds = Number(arg('seconds', '4'));
const rounds = Number(arg('rounds', '3'));
const mainMs = Number(arg('main-ms', '0.5'));
const only = arg('only', '').split('|').map((o) => o.trim()).filter(Boolean);
const withRaw = only.length === 0 || only.includes('raw');

const cores = os.availableParallelism();
const served = servedVersion('wide-mlp');
const rows = served.maxBatchSize;
const wire = wideMlpInput(rows)[0] as ReturnType<typeof wideMlpInput>[number];
const packed = { name: wire.name, datatype: 'FP32' as const, shape: wire.shape, bytes: Buffer.from(Float32Array.from(wire.data).buffer).toString('base64') };

interface Candidate {
  label: string;
  threads: number;
  policy: ThreadPolicy;
}

const candidates: Candidate[] = [
  { label: 'old default: 1 thread, cores-1 intra-op', threads: 1, policy: { intraOpThreads: Math.max(1, cores - 1) } },
  { label: 'all cores', threads: 1, policy: { intraOpThreads: cores } },
  { label: 'all cores, spinning', threads: 1, policy: { intraOpThreads: cores, spinning: true } },
  { label: 'all cores, nice +5', threads: 1, policy: { intraOpThreads: cores, niceIncrement: 5 } },
  { label: 'all cores, nice +10', threads: 1, policy: { intraOpThreads: cores, niceIncrement: 10 } },
  { label: 'all cores, dynamic blocks 4', threads: 1, policy: { intraOpThreads: cores, dynamicBlockBase: 4 } },
  { label: 'all cores, nice +10, dynamic blocks 4', threads: 1, policy: { intraOpThreads: cores, niceIncrement: 10, dynamicBlockBase: 4 } },
  { label: `${cores} threads × 1 intra-op`, threads: cores, policy: { intraOpThreads: 1 } },
  { label: `${cores} threads × 1 intra-op, nice +10`, threads: cores, policy: { intraOpThreads: 1, niceIncrement: 10 } },
].filter((c) => only.length === 0 || only.some((o) => c.label === o || c.label.startsWith(`${o}:`)));

const spin = (ms: number) => {
  const until = performance.now() + ms;
  while (performance.now() < until);
};

interface Sample {
  rowsPerSecond: number;
  runMsP50: number;
  busy: number;
  lagP50: number;
  lagP99: number;
  lagMax: number;
}

async function measurePool(candidate: Candidate): Promise<Sample> {
  let pool: InferencePool | undefined;
  let done = 0;
  let busyMs = 0;
  const runMs: number[] = [];
  let measuring = false;
  let stopping = false;
  const feed = () => {
    if (!pool || stopping) return;
    while (pool.idleThreads > 0 || pool.queueableThreads > 0) {
      const feeds: Record<string, RawTensor> = { x: unpackTensor(packed) };
      void pool.run(feeds).then(({ outputs, inferenceMs }) => {
        // The worker's share of a finished 64-row job: its result as JSON, then BullMQ and Redis.
        JSON.stringify(Object.entries(outputs).map(([name, t]) => toWire(name, t)));
        spin(mainMs);
        if (!measuring) return;
        done++;
        busyMs += inferenceMs;
        runMs.push(inferenceMs);
      });
    }
  };
  pool = await InferencePool.start({
    modelPath: served.modelPath,
    threads: candidate.threads,
    policy: candidate.policy,
    warmupFeeds: { x: unpackTensor(packed) },
    onIdle: () => feed(),
    onWarning: (m) => console.error(`warning: ${m}`),
  });
  feed();
  await new Promise((r) => setTimeout(r, 500));
  const lag = monitorEventLoopDelay({ resolution: 1 });
  measuring = true;
  lag.enable();
  const started = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  measuring = false;
  lag.disable();
  const elapsed = performance.now() - started;
  // Terminating a thread inside session.run aborts the process: let the runs in flight end first.
  stopping = true;
  while (pool.idleThreads < pool.size) await new Promise((r) => setTimeout(r, 5));
  await pool.close();
  const ms = (ns: number) => Math.max(0, ns / 1e6 - 1);
  return {
    rowsPerSecond: (done * rows * 1000) / elapsed,
    runMsP50: summarize(runMs).p50,
    busy: busyMs / elapsed / candidate.threads,
    lagP50: ms(lag.percentile(50)),
    lagP99: ms(lag.percentile(99)),
    lagMax: ms(lag.max),
  };
}

/** onnxruntime alone on this thread, batches back to back, nothing else running. */
async function measureRaw(options: ort.InferenceSession.SessionOptions): Promise<Sample> {
  const session = await ort.InferenceSession.create(served.modelPath, { graphOptimizationLevel: 'all', logSeverityLevel: 4, ...options });
  const data = Float32Array.from(wire.data);
  const run = () => session.run({ x: new ort.Tensor('float32', data.slice(), wire.shape) });
  for (let i = 0; i < 20; i++) await run();
  const runMs: number[] = [];
  const started = performance.now();
  while (performance.now() - started < seconds * 1000) {
    const t0 = performance.now();
    await run();
    runMs.push(performance.now() - t0);
  }
  const elapsed = performance.now() - started;
  await session.release();
  return { rowsPerSecond: (runMs.length * rows * 1000) / elapsed, runMsP50: summarize(runMs).p50, busy: 1, lagP50: Number.NaN, lagP99: Number.NaN, lagMax: Number.NaN };
}

const raws: { label: string; options: ort.InferenceSession.SessionOptions }[] = [
  { label: 'raw onnxruntime, its defaults', options: {} },
  { label: 'raw onnxruntime, inferq options (all cores, no spinning)', options: sessionThreadOptions({ intraOpThreads: cores }) },
  { label: 'raw onnxruntime, all cores, parallel execution', options: { ...sessionThreadOptions({ intraOpThreads: cores }), executionMode: 'parallel', interOpNumThreads: cores } },
];

const samples = new Map<string, Sample[]>();
const record = (label: string, sample: Sample) => {
  samples.set(label, [...(samples.get(label) ?? []), sample]);
  process.stderr.write(`  ${label}: ${Math.round(sample.rowsPerSecond)} rows/s, run p50 ${sample.runMsP50.toFixed(2)} ms, lag p99 ${sample.lagP99.toFixed(1)} ms\n`);
};
for (let r = 0; r < rounds; r++) {
  process.stderr.write(`round ${r + 1} of ${rounds}\n`);
  if (withRaw) for (const raw of raws) record(raw.label, await measureRaw(raw.options));
  for (const candidate of candidates) record(candidate.label, await measurePool(candidate));
}

const median = (values: number[]) => summarize(values).p50;
const table = [...samples].map(([label, list]) => ({
  label,
  rows_per_s: Math.round(median(list.map((s) => s.rowsPerSecond))),
  run_ms_p50: round(median(list.map((s) => s.runMsP50)), 2),
  busy: round(median(list.map((s) => s.busy)), 2),
  lag_p50_ms: round(median(list.map((s) => s.lagP50)), 1),
  lag_p99_ms: round(median(list.map((s) => s.lagP99)), 1),
  lag_max_ms: round(median(list.map((s) => s.lagMax)), 1),
}));
console.log(`wide-mlp, ${rows}-row batches, ${cores} cores, ${seconds} s × ${rounds} rounds, main thread: decode + JSON + ${mainMs} ms per batch; medians over rounds`);
console.log(['policy'.padEnd(58), 'rows/s'.padStart(8), 'run p50'.padStart(8), 'busy'.padStart(5), 'lag p50'.padStart(8), 'p99'.padStart(6), 'max'.padStart(6)].join(' '));
for (const t of table) {
  console.log([t.label.padEnd(58), String(t.rows_per_s).padStart(8), t.run_ms_p50.toFixed(2).padStart(8), t.busy.toFixed(2).padStart(5), String(t.lag_p50_ms).padStart(8), String(t.lag_p99_ms).padStart(6), String(t.lag_max_ms).padStart(6)].join(' '));
}
console.log(JSON.stringify({ cores, seconds, rounds, main_ms: mainMs, results: table }));

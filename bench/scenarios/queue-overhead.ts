import { describeCores, measureQuietly, worse } from '../lib/cpu-share.ts';
import { spawnScript } from '../lib/processes.ts';
import type { ScenarioResult } from '../lib/report.ts';
import type { Settings } from '../lib/settings.ts';
import type { BenchStack } from '../lib/stack.ts';
import type { Summary } from '../lib/stats.ts';
import { drainThroughWorker, type DrainResult } from '../lib/worker-drain.ts';
import { servedVersion, wideMlpJob } from '../lib/workloads.ts';

/**
 * Scenario 3: jobs of exactly max_batch_size rows, so every session.run in the worker is a full
 * batch, against onnxruntime running the same batch in-process back to back. The gap is what the
 * queue, decoding, the thread hop and the result write cost per batch.
 */
export async function queueOverhead(stack: BenchStack, s: Settings): Promise<{ result: ScenarioResult; drain: DrainResult }> {
  const served = servedVersion('wide-mlp');
  const rows = served.maxBatchSize;
  const inferq = await measureQuietly(async () => {
    await stack.flush();
    return drainThroughWorker(stack, { model: 'wide-mlp', body: wideMlpJob(rows), rows, jobs: s.overheadJobs });
  }, { cpuOf: (d) => d.cpu });
  const drain = inferq.value;
  await stack.flush();

  const baseline = await measureQuietly(() =>
    spawnScript('children/raw-ort.ts', [JSON.stringify({ modelPath: served.modelPath, intraOpThreads: stack.intraOpThreads, batchRows: rows, durationMs: s.rawOrtMs })]).result<{
      rowsPerSecond: number;
      runMs: Summary;
    }>(),
  );
  const raw = baseline.value;
  const rawCpu = baseline.cpu;

  const ratio = drain.rowsPerSecond / raw.rowsPerSecond;
  return {
    drain,
    result: {
      id: '3',
      title: `queue overhead, wide-mlp, ${s.overheadJobs} queued jobs of ${rows} rows (max_batch_size) vs raw onnxruntime at batch ${rows}`,
      rows: [
        { metric: `raw onnxruntime, batch ${rows}, in-process`, value: raw.rowsPerSecond, unit: 'rows/s' },
        { metric: 'inferq worker', value: drain.rowsPerSecond, unit: 'rows/s', baseline: { name: 'raw', value: raw.rowsPerSecond }, ratio, goal: '≥ 0.9× raw', pass: ratio >= 0.9 },
      ],
      cpu: worse(drain.cpu, rawCpu),
      notes: [
        `raw session.run at batch ${rows}: p50 ${raw.runMs.p50.toFixed(2)} ms, p99 ${raw.runMs.p99.toFixed(2)} ms; inferq: ${drain.jobs} jobs, span ${drain.spanMs} ms, mean rows/run ${drain.batchRows.mean.toFixed(1)}, session.run p50 ${drain.inferenceMs.p50.toFixed(2)} ms, inference thread busy ${Math.round(drain.inferenceBusy * 100)} % of the span.`,
        `cores used during the inferq drain (worker start included): ${describeCores(drain.cpu)}; during raw onnxruntime: ${describeCores(rawCpu)}.${inferq.attempts + baseline.attempts > 2 ? ` Best of ${inferq.attempts} inferq and ${baseline.attempts} raw attempts (others' load).` : ''}`,
      ],
      details: { inferq: drain, raw },
      summary: { raw_ort_items_per_s: raw.rowsPerSecond, worker_items_per_s: drain.rowsPerSecond, raw_ort_ratio: ratio },
    },
  };
}

import { describeCores, measureQuietly, worse } from '../lib/cpu-share.ts';
import { renderOcrLines, type InProcessOcr } from '../lib/ocr-lines.ts';
import { spawnScript } from '../lib/processes.ts';
import type { Row, ScenarioResult } from '../lib/report.ts';
import type { Settings } from '../lib/settings.ts';
import { OLD_THREAD_DEFAULTS, type BenchStack, type LagWindow } from '../lib/stack.ts';
import type { Summary } from '../lib/stats.ts';
import { drainThroughWorker, type DrainOptions, type DrainResult } from '../lib/worker-drain.ts';
import { servedVersion, wideMlpJob } from '../lib/workloads.ts';

const GOAL = 0.9;

interface RawOrt {
  rowsPerSecond: number;
  runMs: Summary;
}

/** A drain with the worker's defaults, then one with the thread policy before issue 12. */
async function drainBoth(stack: BenchStack, options: DrainOptions) {
  const run = (workerEnv?: Record<string, string>) =>
    measureQuietly(async () => {
      await stack.flush();
      return drainThroughWorker(stack, { ...options, ...(workerEnv ? { workerEnv } : {}) });
    }, { cpuOf: (d) => d.cpu });
  const current = await run();
  const old = await run(OLD_THREAD_DEFAULTS);
  await stack.flush();
  return { current, old };
}

const busy = (d: DrainResult) => `${Math.round(d.inferenceBusy * 100)} %`;

/**
 * Scenario 3: the heavy path, where the model and not the queue should set the pace. wide-mlp
 * jobs of exactly max_batch_size rows (every session.run a full batch) against onnxruntime
 * running the same batch in-process back to back; and textline-ocr lines (decode, resize,
 * normalise, batched by width) against the same pre-processing and model in one process. Each
 * drain runs twice: with the worker's defaults, and with the thread policy before issue 12
 * (intra-op threads on cores - 1, inference at the event loop's priority), so the lag windows of
 * both can be compared (scenario 7).
 */
export async function queueOverhead(stack: BenchStack, s: Settings): Promise<{ result: ScenarioResult; lagWindows: { label: string; lag: LagWindow; baseline?: boolean }[] }> {
  const served = servedVersion('wide-mlp');
  const rows = served.maxBatchSize;
  const mlp = await drainBoth(stack, { model: 'wide-mlp', body: wideMlpJob(rows), rows, jobs: s.overheadJobs });

  const rawPlan = { modelPath: served.modelPath, intraOpThreads: stack.intraOpThreads, batchRows: rows, durationMs: s.rawOrtMs };
  const raw = await measureQuietly(() => spawnScript('children/raw-ort.ts', [JSON.stringify(rawPlan)]).result<RawOrt>());
  const rawDefaults = await measureQuietly(() => spawnScript('children/raw-ort.ts', [JSON.stringify({ ...rawPlan, ortDefaults: true })]).result<RawOrt>());
  // The stricter baseline counts: onnxruntime with inferq's session options, or with its own defaults.
  const best = raw.value.rowsPerSecond >= rawDefaults.value.rowsPerSecond ? { name: 'raw, inferq session options', value: raw.value } : { name: 'raw, onnxruntime defaults', value: rawDefaults.value };

  const lines = await renderOcrLines(s.ocrCopies);
  const ocrBodies = lines.map((line) => ({ model: 'textline-ocr', image: { data: line.png.toString('base64') } }));
  const ocr = await drainBoth(stack, { model: 'textline-ocr', body: ocrBodies[0], bodies: ocrBodies, rows: 1, jobs: lines.length });
  const ocrRaw = await measureQuietly(() => spawnScript('children/raw-ocr.ts', [JSON.stringify({ copies: s.ocrCopies, intraOpThreads: stack.intraOpThreads })]).result<InProcessOcr>());

  const mlpNow = mlp.current.value;
  const mlpOld = mlp.old.value;
  const ratio = mlpNow.rowsPerSecond / best.value.rowsPerSecond;
  const ocrNow = ocr.current.value;
  const ocrOld = ocr.old.value;
  const ocrRatio = ocrNow.rowsPerSecond / ocrRaw.value.linesPerSecond;
  const rawBaseline = { name: best.name, value: best.value.rowsPerSecond };
  const ocrBaseline = { name: 'in-process', value: ocrRaw.value.linesPerSecond };
  const resultRows: Row[] = [
    { metric: `raw onnxruntime, batch ${rows}, in-process, inferq session options`, value: raw.value.rowsPerSecond, unit: 'rows/s' },
    { metric: `raw onnxruntime, batch ${rows}, in-process, onnxruntime defaults`, value: rawDefaults.value.rowsPerSecond, unit: 'rows/s' },
    { metric: 'inferq worker, wide-mlp', value: mlpNow.rowsPerSecond, unit: 'rows/s', baseline: rawBaseline, ratio, goal: `≥ ${GOAL}× raw`, pass: ratio >= GOAL },
    { metric: 'inferq worker, wide-mlp, old thread defaults', value: mlpOld.rowsPerSecond, unit: 'rows/s', baseline: rawBaseline, ratio: mlpOld.rowsPerSecond / best.value.rowsPerSecond },
    { metric: 'wide-mlp session.run p50 in the worker (raw: same batch in-process)', value: mlpNow.inferenceMs.p50, unit: 'ms', baseline: { name: 'raw p50', value: best.value.runMs.p50 }, ratio: mlpNow.inferenceMs.p50 / best.value.runMs.p50 },
    { metric: 'wide-mlp inference thread busy (share of the drain)', value: mlpNow.inferenceBusy * 100, unit: '%' },
    { metric: 'textline-ocr in-process (pre-process + batched session.run)', value: ocrRaw.value.linesPerSecond, unit: 'lines/s' },
    { metric: 'inferq worker, textline-ocr', value: ocrNow.rowsPerSecond, unit: 'lines/s', baseline: ocrBaseline, ratio: ocrRatio, goal: `≥ ${GOAL}× in-process`, pass: ocrRatio >= GOAL },
    { metric: 'inferq worker, textline-ocr, old thread defaults', value: ocrOld.rowsPerSecond, unit: 'lines/s', baseline: ocrBaseline, ratio: ocrOld.rowsPerSecond / ocrRaw.value.linesPerSecond },
    { metric: 'textline-ocr inference thread busy (share of the drain)', value: ocrNow.inferenceBusy * 100, unit: '%' },
  ];
  const attempts = [mlp.current, mlp.old, raw, rawDefaults, ocr.current, ocr.old, ocrRaw].map((m) => m.attempts);
  return {
    lagWindows: [
      { label: 'full-batch wide-mlp jobs (scenario 3)', lag: mlpNow.lag },
      { label: 'textline-ocr lines (scenario 3)', lag: ocrNow.lag },
      { label: 'full-batch wide-mlp jobs, old thread defaults', lag: mlpOld.lag, baseline: true },
      { label: 'textline-ocr lines, old thread defaults', lag: ocrOld.lag, baseline: true },
    ],
    result: {
      id: '3',
      title: `heavy models vs raw onnxruntime: wide-mlp, ${s.overheadJobs} queued jobs of ${rows} rows (max_batch_size); textline-ocr, ${lines.length} queued lines`,
      rows: resultRows,
      cpu: worse(mlpNow.cpu, raw.cpu),
      notes: [
        `wide-mlp raw session.run at batch ${rows}: p50 ${raw.value.runMs.p50.toFixed(2)} ms (onnxruntime defaults ${rawDefaults.value.runMs.p50.toFixed(2)} ms); inferq: ${mlpNow.jobs} jobs, span ${mlpNow.spanMs} ms, mean rows/run ${mlpNow.batchRows.mean.toFixed(1)}, session.run p50 ${mlpNow.inferenceMs.p50.toFixed(2)} ms, busy ${busy(mlpNow)}; old thread defaults: session.run p50 ${mlpOld.inferenceMs.p50.toFixed(2)} ms, busy ${busy(mlpOld)}.`,
        `textline-ocr in-process: ${ocrRaw.value.runs} runs, pre-processing ${ocrRaw.value.preprocessMs.toFixed(0)} ms, session.run ${ocrRaw.value.runMs.toFixed(0)} ms; inferq: ${ocrNow.jobs} lines, span ${ocrNow.spanMs} ms, mean lines/run ${ocrNow.batchRows.mean.toFixed(1)}, session.run p50 ${ocrNow.inferenceMs.p50.toFixed(1)} ms, busy ${busy(ocrNow)}; old thread defaults: busy ${busy(ocrOld)}.`,
        `cores used during the wide-mlp drain (worker start included): ${describeCores(mlpNow.cpu)}; during raw onnxruntime: ${describeCores(raw.cpu)}; during the OCR drain: ${describeCores(ocrNow.cpu)}.${attempts.some((a) => a > 1) ? ` Attempts (others' load): ${attempts.join(', ')}.` : ''}`,
      ],
      details: { inferq: mlpNow, inferqOldThreadDefaults: mlpOld, raw: raw.value, rawOrtDefaults: rawDefaults.value, ocr: ocrNow, ocrOldThreadDefaults: ocrOld, ocrInProcess: ocrRaw.value },
      summary: {
        raw_ort_items_per_s: best.value.rowsPerSecond,
        worker_items_per_s: mlpNow.rowsPerSecond,
        raw_ort_ratio: ratio,
        worker_items_per_s_old_thread_defaults: mlpOld.rowsPerSecond,
        worker_inference_busy: mlpNow.inferenceBusy,
        ocr_in_process_lines_per_s: ocrRaw.value.linesPerSecond,
        ocr_worker_lines_per_s: ocrNow.rowsPerSecond,
        ocr_ratio: ocrRatio,
      },
    },
  };
}

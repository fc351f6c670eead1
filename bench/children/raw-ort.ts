/**
 * Baseline for scenario 3: onnxruntime alone, in-process, running full batches back to back;
 * the ceiling any serving path around the same session can reach. argv[2]:
 * {"modelPath", "intraOpThreads", "batchRows", "durationMs", "ortDefaults"?}; with ortDefaults the
 * session takes onnxruntime's own thread settings (spinning, one thread per physical core).
 */
import * as ort from 'onnxruntime-node';
import { wideMlpInput } from '../../test/support/http.ts';
import { summarize } from '../lib/stats.ts';
import { createBenchSession, floatTensor } from '../lib/ort-session.ts';

const plan = JSON.parse(process.argv[2] ?? '{}') as { modelPath: string; intraOpThreads: number; batchRows: number; durationMs: number; ortDefaults?: boolean };
const session = plan.ortDefaults ? await ort.InferenceSession.create(plan.modelPath, { graphOptimizationLevel: 'all', logSeverityLevel: 4 }) : await createBenchSession(plan.modelPath, plan.intraOpThreads);
const [input] = wideMlpInput(plan.batchRows);
if (!input) throw new Error('no input');
// A fresh tensor per run, as inferq builds one per batch.
const run = () => session.run({ [input.name]: floatTensor(input.data, input.shape) });
for (let i = 0; i < 20; i += 1) await run();

const runs: number[] = [];
const start = performance.now();
while (performance.now() - start < plan.durationMs) {
  const t0 = performance.now();
  await run();
  runs.push(performance.now() - t0);
}
const elapsed = performance.now() - start;
process.stdout.write(`${JSON.stringify({ rowsPerSecond: (runs.length * plan.batchRows * 1000) / elapsed, runMs: summarize(runs) })}\n`);

/**
 * Baseline for scenario 3's OCR half: the same pre-processing and model as the worker's, in one
 * process with nothing around them (bench/lib/ocr-lines.ts). argv[2]: {"copies", "intraOpThreads"}.
 */
import { ocrInProcess, renderOcrLines } from '../lib/ocr-lines.ts';

const plan = JSON.parse(process.argv[2] ?? '{}') as { copies: number; intraOpThreads: number };
const lines = await renderOcrLines(plan.copies);
process.stdout.write(`${JSON.stringify(await ocrInProcess(lines, plan.intraOpThreads))}\n`);

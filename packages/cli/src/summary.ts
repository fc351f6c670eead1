import path from 'node:path';
import type { BatchView } from '@inferq/client/api-types';
import type { WrittenResults } from './result-writer.ts';

const count = (n: number) => n.toLocaleString('en');

/**
 * The lines printed when a batch is done: what happened to its rows, where the results went,
 * and the first failed rows with their codes (the rest are in the results, one error line each).
 */
export function batchSummary(view: BatchView, results: WrittenResults | undefined, output: string | undefined): string {
  if (view.status === 'failed') {
    return `${view.batch_id} failed: ${view.error ? `${view.error.code}: ${view.error.message}` : 'the upload broke off'}; no results\n`;
  }
  const scored = `${count(view.succeeded)} of ${count(view.total)} rows scored`;
  const failures = `${count(view.failed)} failed${view.canceled ? `, ${count(view.canceled)} canceled` : ''}`;
  const where = output ? `results in ${path.resolve(output)}` : 'results on standard output';
  let text = `${view.batch_id} ${view.status}: ${scored}, ${failures}; ${where}\n`;
  const shown = results?.firstFailed ?? [];
  for (const line of shown) {
    const id = line.id === undefined ? '' : ` (id ${JSON.stringify(line.id)})`;
    text += `  row ${line.row}${id}: ${line.error.code}: ${line.error.message}\n`;
  }
  const more = (results?.failed ?? 0) - shown.length;
  if (more > 0) text += `  … and ${count(more)} more failed rows: see their error lines in the results\n`;
  return text;
}

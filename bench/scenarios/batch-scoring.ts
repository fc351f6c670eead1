import { Readable } from 'node:stream';
import { SAFE_TRANSACTION } from '../../test/support/http.ts';
import { describeCores, startCpuShare, waitForQuiet } from '../lib/cpu-share.ts';
import type { ScenarioResult } from '../lib/report.ts';
import type { BenchStack } from '../lib/stack.ts';

const GOAL_ROWS_PER_S = 200_000;

/** Generated while it is sent, as a real file is read while it is sent: never the whole body in memory. */
function* ndjson(total: number): Generator<string> {
  const block: string[] = [];
  for (let i = 0; i < total; i++) {
    block.push(JSON.stringify({ id: i, features: { ...SAFE_TRANSACTION, amount: 1 + (i % 4000), hour_of_day: i % 24 } }));
    if (block.length === 1000) yield `${block.splice(0).join('\n')}\n`;
  }
  if (block.length > 0) yield `${block.join('\n')}\n`;
}

/**
 * Scenario 5: a batch scoring file of `rows` fraud-risk feature rows uploaded as NDJSON through
 * the API and scored by one worker, end to end: from the first byte sent to the last result line
 * read back.
 */
export async function batchScoring(stack: BenchStack, rows: number): Promise<ScenarioResult> {
  const base = stack.apiUrl;
  const startedWorker = !stack.workers.has('fraud-risk');
  if (startedWorker) await stack.startWorker('fraud-risk');
  await waitForQuiet();
  const share = startCpuShare();
  const started = performance.now();
  const body = Readable.toWeb(Readable.from(ndjson(rows))) as unknown as ReadableStream<Uint8Array>;
  const response = await fetch(`${base}/v1/batches?model=fraud-risk`, { method: 'POST', body, headers: { 'content-type': 'application/x-ndjson' }, duplex: 'half' } as RequestInit);
  if (response.status !== 202) throw new Error(`the batch upload was answered ${response.status}: ${await response.text()}`);
  const submitted = (await response.json()) as { batch_id: string; poll_url: string };
  const uploaded = performance.now();
  let view: { status: string; succeeded: number; failed: number };
  do view = (await (await fetch(`${base}${submitted.poll_url}?wait=60`)).json()) as typeof view;
  while (!['succeeded', 'failed', 'canceled'].includes(view.status));
  const scored = performance.now();
  const results = await fetch(`${base}/v1/batches/${submitted.batch_id}/results`);
  // Counted natively: a byte-by-byte loop here took longer than the API took to send the lines.
  let lines = 0;
  for await (const chunk of results.body as unknown as AsyncIterable<Uint8Array>) {
    const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    for (let at = bytes.indexOf(10); at !== -1; at = bytes.indexOf(10, at + 1)) lines++;
  }
  const finished = performance.now();
  const cpu = share.stop();
  if (startedWorker) await stack.stopWorker('fraud-risk');
  await stack.flush();

  const rowsPerSecond = (rows / (finished - started)) * 1000;
  return {
    id: '5',
    title: `batch scoring file, ${rows.toLocaleString('en-US')} fraud-risk feature rows as NDJSON, upload to last result line`,
    rows: [
      { metric: 'batch scoring, end to end', value: rowsPerSecond, unit: 'rows/s', goal: `≥ ${GOAL_ROWS_PER_S.toLocaleString('en-US')} rows/s`, pass: rowsPerSecond >= GOAL_ROWS_PER_S },
      { metric: 'upload and ingest (202 once the last row is queued)', value: uploaded - started, unit: 'ms' },
      { metric: 'scored after the upload ended', value: scored - uploaded, unit: 'ms' },
      { metric: 'result lines streamed back', value: finished - scored, unit: 'ms' },
    ],
    cpu,
    notes: [
      `${view.succeeded} succeeded, ${view.failed} failed, ${lines} result lines read back; cores used: ${describeCores(cpu)}.`,
    ],
    details: { rows, uploadMs: uploaded - started, scoredMs: scored - started, finishedMs: finished - started, lines, succeeded: view.succeeded, failed: view.failed },
    summary: { batch_rows_per_s: rowsPerSecond },
  };
}

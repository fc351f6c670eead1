/**
 * `npx tsx bench/batch.ts [--rows N]` (default 1,000,000): a batch scoring file of fraud-risk
 * feature rows uploaded as NDJSON through the API and scored by one worker, end to end: from the
 * first byte sent to the last result line read back. Prints a table and, last, one JSON line.
 */
import { Readable } from 'node:stream';
import { SAFE_TRANSACTION } from '../test/support/http.ts';
import { BenchStack } from './lib/stack.ts';
import { round } from './lib/stats.ts';

const rowsArg = process.argv.indexOf('--rows');
const total = rowsArg > 0 ? Number(process.argv[rowsArg + 1]) : 1_000_000;

const stack = await BenchStack.start();
await stack.startApi();
await stack.startWorker('fraud-risk');
const base = stack.apiUrl;

// Generated while it is sent, as a real file is read while it is sent: never the whole body in memory.
function* ndjson(): Generator<string> {
  const block: string[] = [];
  for (let i = 0; i < total; i++) {
    block.push(JSON.stringify({ id: i, features: { ...SAFE_TRANSACTION, amount: 1 + (i % 4000), hour_of_day: i % 24 } }));
    if (block.length === 1000) yield `${block.splice(0).join('\n')}\n`;
  }
  if (block.length > 0) yield `${block.join('\n')}\n`;
}

const started = performance.now();
const body = Readable.toWeb(Readable.from(ndjson())) as unknown as ReadableStream<Uint8Array>;
const submitted = (await (await fetch(`${base}/v1/batches?model=fraud-risk`, { method: 'POST', body, headers: { 'content-type': 'application/x-ndjson' }, duplex: 'half' } as RequestInit)).json()) as { batch_id: string; poll_url: string };
const uploaded = performance.now();
let view: { status: string; succeeded: number; failed: number; timings: { ingest_ms: number } };
do view = (await (await fetch(`${base}${submitted.poll_url}?wait=60`)).json()) as typeof view;
while (!['succeeded', 'failed', 'canceled'].includes(view.status));
const scored = performance.now();
const results = await fetch(`${base}/v1/batches/${submitted.batch_id}/results`);
let lines = 0;
for await (const chunk of results.body as unknown as AsyncIterable<Uint8Array>) for (const byte of chunk) if (byte === 10) lines++;
const finished = performance.now();
await stack.stop();

const rowsPerSecond = (total / (finished - started)) * 1000;
const rows: [string, string][] = [
  ['rows', `${total.toLocaleString('en')} (NDJSON, fraud-risk features)`],
  ['upload + ingest (202 after the last row is queued)', `${round(uploaded - started)} ms`],
  ['scored (batch succeeded)', `${round(scored - started)} ms, ${view.succeeded} succeeded, ${view.failed} failed`],
  ['results streamed back', `${lines.toLocaleString('en')} lines, ${round(finished - scored)} ms`],
  ['end to end', `${round(rowsPerSecond)} rows/s (goal ≥ 200,000)`],
];
for (const [k, v] of rows) console.log(`${k.padEnd(52)} ${v}`);
console.log(JSON.stringify({ batch_rows: total, batch_rows_per_s: round(rowsPerSecond), batch_ingest_ms: round(uploaded - started), batch_result_lines: lines }));

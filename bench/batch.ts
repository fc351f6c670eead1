/**
 * `npx tsx bench/batch.ts [--rows N]` (default 1,000,000): scenario 5 alone, a batch scoring file
 * of fraud-risk feature rows uploaded as NDJSON through the API and scored by one worker, end to
 * end. Prints the table and, last, one JSON line. `npm run bench` runs the same scenario.
 */
import { machineInfo, textTable } from './lib/report.ts';
import { BenchStack } from './lib/stack.ts';
import { round } from './lib/stats.ts';
import { batchScoring } from './scenarios/batch-scoring.ts';

const rowsArg = process.argv.indexOf('--rows');
const total = rowsArg > 0 ? Number(process.argv[rowsArg + 1]) : 1_000_000;

const stack = await BenchStack.start();
let result;
let redisVersion;
try {
  redisVersion = await stack.redisVersion();
  await stack.startApi();
  result = await batchScoring(stack, total);
} finally {
  await stack.stop();
}
const machine = machineInfo(redisVersion);
console.log(`inferq bench:batch, ${machine.date}: ${machine.cores} cores ${machine.cpuModel}, Node ${machine.node}, Redis ${machine.redis}, commit ${machine.commit}`);
console.log(textTable([result]));
console.log(...result.notes);
console.log(JSON.stringify({ batch_rows: total, batch_rows_per_s: round(result.summary?.batch_rows_per_s ?? Number.NaN) }));

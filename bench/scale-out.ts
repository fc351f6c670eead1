/**
 * `npm run bench:scale [-- --quick]`: the scale-out scenario alone (1, 2, 4 … N workers, N the
 * machine's cores, against one API and one Redis), on single-row and on compute-heavy jobs. The
 * same command on a bigger machine measures the bigger machine. Prints the table, the notes, a
 * Markdown table for the README (workers, jobs/s, efficiency, where the limit sits) and, last,
 * one JSON line.
 */
import { machineInfo, textTable } from './lib/report.ts';
import { SETTINGS } from './lib/settings.ts';
import { BenchStack } from './lib/stack.ts';
import { round } from './lib/stats.ts';
import { scaleOut } from './scenarios/scale-out.ts';

const settings = SETTINGS[process.argv.includes('--quick') ? 'quick' : 'full'];
const stack = await BenchStack.start();
let result;
let redisVersion;
try {
  redisVersion = await stack.redisVersion();
  result = await scaleOut(stack, settings);
} finally {
  await stack.stop();
}
const machine = machineInfo(redisVersion);
console.log(`inferq bench:scale (${settings.mode}), ${machine.date}: ${machine.cores} cores ${machine.cpuModel}, Node ${machine.node}, Redis ${machine.redis}, commit ${machine.commit}`);
console.log(textTable([result]));
for (const note of result.notes) console.log(`- ${note}`);
const ratio = (value: number) => (Number.isNaN(value) ? '–' : value.toFixed(2));
console.log('');
console.log('| jobs | workers (intra-op threads each) | clients | jobs/s | rows/s | efficiency | per added worker | limit |');
console.log('|---|---|---|---|---|---|---|---|');
for (const step of result.details) {
  const cells = [step.workload, `${step.workers} (${step.intraOpThreads})`, step.clients, Math.round(step.jobsPerSecond).toLocaleString('en'), Math.round(step.rowsPerSecond).toLocaleString('en'), ratio(step.efficiency), ratio(step.addedWorkerEfficiency), step.limit];
  console.log(`| ${cells.join(' | ')} |`);
}
console.log('');
console.log(JSON.stringify(Object.fromEntries(Object.entries(result.summary ?? {}).map(([k, v]) => [k, v === null ? null : round(v, 2)]))));

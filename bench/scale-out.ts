/**
 * `npm run bench:scale [-- --quick]`: the scale-out scenario alone (1, 2, 4 … N workers, N the
 * machine's cores, against one API and one Redis), on single-row and on compute-heavy jobs. The
 * same command on a bigger machine measures the bigger machine. Prints the table, the notes (where
 * the limit sits at each step) and, last, one JSON line.
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
console.log(JSON.stringify(Object.fromEntries(Object.entries(result.summary ?? {}).map(([k, v]) => [k, v === null ? null : round(v, 1)]))));

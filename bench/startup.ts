/**
 * `npm run bench:startup`: the API's time to ready and RSS at rest, run from its TypeScript
 * source through tsx (development) and compiled (`npm start`, the image), side by side.
 * Each mode is started `--runs` times (default 3) against a private Redis; the median is printed.
 * Time to ready: from spawn to the first 200 from /readyz (polled every 10 ms). RSS at rest:
 * VmRSS 3 s after ready, with no request in between (the goal's figure). RSS settled: VmRSS
 * `--settle-s` seconds after ready (default 12; 0 skips it), once V8's memory reducer has run: it
 * gives back the young generation that module loading grew, about 8 s after start's last full GC.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, startLocalRedis } from '../scripts/lib/local-redis.ts';
import { compiledEnv, REPO_ROOT, SOURCE_NODE_FLAGS } from '../test/support/services.ts';
import { rssMb } from './lib/processes.ts';

const GOAL = { readyMs: 2000, rssMb: 100 };
const numberArg = (name: string, fallback: number) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback);
const runs = numberArg('runs', 3);
const settleS = numberArg('settle-s', 12);
const REST_S = 3;

const MODES = {
  tsx: { args: [...SOURCE_NODE_FLAGS, path.join(REPO_ROOT, 'apps/api/src/main.ts')], env: process.env },
  compiled: { args: [path.join(REPO_ROOT, 'apps/api/dist/main.js')], env: compiledEnv() },
} as const;

interface Sample {
  readyMs: number;
  rssMb: number;
  settledMb: number;
}

async function measure(mode: keyof typeof MODES, redisUrl: string): Promise<Sample> {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(process.execPath, MODES[mode].args, {
    cwd: REPO_ROOT,
    env: { ...MODES[mode].env, REDIS_URL: redisUrl, PORT: String(port), LOG_LEVEL: 'warn' },
    stdio: 'ignore',
  });
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`the ${mode} api exited with ${child.exitCode}`);
      const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false);
      if (ok) break;
      if (performance.now() - started > 60_000) throw new Error(`the ${mode} api was not ready within 60 s`);
      await sleep(10);
    }
    const readyMs = performance.now() - started;
    await sleep(REST_S * 1000);
    const rest = rssMb(child.pid as number);
    if (settleS <= REST_S) return { readyMs, rssMb: rest, settledMb: Number.NaN };
    await sleep((settleS - REST_S) * 1000);
    return { readyMs, rssMb: rest, settledMb: rssMb(child.pid as number) };
  } finally {
    child.kill('SIGKILL');
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

const redis = await startLocalRedis();
try {
  const rows: Record<string, Sample> = {};
  for (const mode of Object.keys(MODES) as (keyof typeof MODES)[]) {
    const samples: Sample[] = [];
    for (let i = 0; i < runs; i++) samples.push(await measure(mode, redis.url));
    const mid = (key: keyof Sample) => Math.round(median(samples.map((s) => s[key])));
    rows[mode] = { readyMs: mid('readyMs'), rssMb: mid('rssMb'), settledMb: mid('settledMb') };
  }
  console.log(`API start-up, median of ${runs} runs (goal: ready ≤ ${GOAL.readyMs} ms, RSS at rest ${REST_S} s after ready ≤ ${GOAL.rssMb} MiB)`);
  console.log(`mode      ready_ms  rss_mib  rss_settled_mib (${settleS} s after ready)`);
  const settled = (mib: number) => (Number.isNaN(mib) ? '–' : String(mib));
  for (const [mode, row] of Object.entries(rows)) console.log(`${mode.padEnd(9)} ${String(row.readyMs).padStart(8)} ${String(row.rssMb).padStart(8)} ${settled(row.settledMb).padStart(16)}`);
  const compiled = rows.compiled as Sample;
  console.log(JSON.stringify({ ...rows, pass: compiled.readyMs <= GOAL.readyMs && compiled.rssMb <= GOAL.rssMb }));
} finally {
  await redis.stop();
}

/**
 * `npm run bench:startup`: the API's time to ready and RSS at rest, run from its TypeScript
 * source through tsx (development) and compiled (`npm start`, the image), side by side.
 * Each mode is started `--runs` times (default 3) against a private Redis; the median is printed.
 * Time to ready: from spawn to the first 200 from /readyz (polled every 10 ms). RSS at rest:
 * VmRSS 3 s after ready, with no request in between.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, startLocalRedis } from '../scripts/lib/local-redis.ts';
import { compiledEnv, REPO_ROOT, SOURCE_NODE_FLAGS } from '../test/support/services.ts';
import { rssMb } from './lib/processes.ts';

const GOAL = { readyMs: 2000, rssMb: 100 };
const runs = Number(process.argv.find((a) => a.startsWith('--runs='))?.slice('--runs='.length) ?? 3);

const MODES = {
  tsx: { args: [...SOURCE_NODE_FLAGS, path.join(REPO_ROOT, 'apps/api/src/main.ts')], env: process.env },
  compiled: { args: [path.join(REPO_ROOT, 'apps/api/dist/main.js')], env: compiledEnv() },
} as const;

async function measure(mode: keyof typeof MODES, redisUrl: string): Promise<{ readyMs: number; rssMb: number }> {
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
    await sleep(3000);
    return { readyMs, rssMb: rssMb(child.pid as number) };
  } finally {
    child.kill('SIGKILL');
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

const redis = await startLocalRedis();
try {
  const rows: Record<string, { readyMs: number; rssMb: number }> = {};
  for (const mode of Object.keys(MODES) as (keyof typeof MODES)[]) {
    const samples = [];
    for (let i = 0; i < runs; i++) samples.push(await measure(mode, redis.url));
    rows[mode] = { readyMs: Math.round(median(samples.map((s) => s.readyMs))), rssMb: Math.round(median(samples.map((s) => s.rssMb))) };
  }
  console.log(`API start-up, median of ${runs} runs (goal: ready ≤ ${GOAL.readyMs} ms, RSS at rest ≤ ${GOAL.rssMb} MiB)`);
  console.log('mode      ready_ms  rss_mib');
  for (const [mode, row] of Object.entries(rows)) console.log(`${mode.padEnd(9)} ${String(row.readyMs).padStart(8)} ${String(row.rssMb).padStart(8)}`);
  const compiled = rows.compiled as { readyMs: number; rssMb: number };
  console.log(JSON.stringify({ ...rows, pass: compiled.readyMs <= GOAL.readyMs && compiled.rssMb <= GOAL.rssMb }));
} finally {
  await redis.stop();
}

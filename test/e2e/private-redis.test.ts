import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { claimDataDir } from '../../scripts/lib/data-dir-owner.ts';
import { freePort, startLocalRedis, type LocalRedis } from '../../scripts/lib/local-redis.ts';
import { request, SAFE_TRANSACTION } from '../support/http.ts';
import { exitedProcessPid } from '../support/processes.ts';
import { REPO_ROOT, testModelDir } from '../support/services.ts';

/** `npm start` as the tests run it: the launcher itself (no npm, no tsx CLI in between), so its pid is the owner's. */
interface Launcher {
  child: ChildProcess;
  pid: number;
  output: () => string;
  /** 'ready' once the banner is printed, or how the launcher exited before that. */
  outcome: Promise<'ready' | { exit: number | string }>;
  exited: Promise<number | string>;
}

const launchers: Launcher[] = [];

function launch(env: Record<string, string>): Launcher {
  const { REDIS_URL: _ignored, ...inherited } = process.env;
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'scripts/start.ts')], {
    cwd: REPO_ROOT,
    env: { ...inherited, INFERQ_LOG_PRETTY: 'false', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  assert.ok(child.pid);
  let text = '';
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  const outcome = new Promise<'ready' | { exit: number | string }>((resolve) => {
    const collect = (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes('inferq is ready at')) resolve('ready');
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    void exited.then((exit) => resolve({ exit }));
  });
  const launcher = { child, pid: child.pid, output: () => text, outcome, exited };
  launchers.push(launcher);
  return launcher;
}

/** The API and private Redis URLs the banner shows. */
function bannerUrls(launcher: Launcher): { api: string; redis: string } {
  const [, api, redis] = /inferq is ready at (\S+) {2}\(private Redis (redis:\/\/\S+),/.exec(launcher.output()) ?? [];
  assert.ok(api && redis, launcher.output());
  return { api, redis };
}

/** Every redis-server whose working directory is dir (Redis chdirs into --dir), from /proc. */
function redisServersIn(dir: string): number[] {
  const target = realpathSync(dir);
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'redis-server' && readlinkSync(`/proc/${pid}/cwd`) === target;
      } catch {
        return false; // exited meanwhile, or not ours to read
      }
    })
    .map(Number);
}

/** pid and every process below it, from /proc. */
function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(parent, [...(children.get(parent) ?? []), Number(name)]);
    } catch {
      // exited meanwhile
    }
  }
  const tree: number[] = [];
  const visit = (pid: number) => {
    tree.push(pid);
    for (const child of children.get(pid) ?? []) visit(child);
  };
  visit(root);
  return tree;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function eventually(check: () => boolean, timeoutMs = 60_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return true;
}


describe('npm start: its private Redis', { skip: !existsSync('/proc/self/cwd') && 'counts redis-server processes through /proc (Linux)' }, () => {
  let leftOver: LocalRedis | undefined;
  afterEach(async () => {
    // SIGKILL, as a harness that gives up would: the owner watchdogs stop everything else.
    for (const launcher of launchers.splice(0)) {
      launcher.child.kill('SIGKILL');
      await launcher.exited;
    }
    await leftOver?.stop();
    leftOver = undefined;
  });

  /** A fresh data directory and settings under which the worker serves only `lookup`, so fraud-risk jobs stay queued. */
  async function setting(): Promise<{ redisDir: string; env: Record<string, string> }> {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'inferq-data-'));
    const env = { INFERQ_DATA_DIR: dataDir, INFERQ_MODEL_DIR: testModelDir(), INFERQ_MODELS: 'lookup', INFERQ_SHUTDOWN_TIMEOUT_MS: '5000', PORT: String(await freePort()) };
    return { redisDir: path.join(dataDir, 'redis'), env };
  }

  test('SIGKILL of npm start takes its Redis and services with it; the next start runs one Redis with the queued jobs', async () => {
    const { redisDir, env } = await setting();
    const first = launch(env);
    assert.equal(await first.outcome, 'ready', first.output());
    const [firstServer, ...others] = redisServersIn(redisDir);
    assert.ok(firstServer !== undefined && others.length === 0);
    const base = `http://127.0.0.1:${env.PORT}`;
    const jobIds: string[] = [];
    for (let i = 0; i < 3; i++) {
      const submitted = await request(base, 'POST', '/v1/jobs', { model: 'fraud-risk', features: SAFE_TRANSACTION });
      assert.equal(submitted.status, 202);
      jobIds.push(submitted.body.job_id);
    }
    const firstProcesses = processTree(first.pid);
    assert.ok(firstProcesses.includes(firstServer), 'the Redis runs below the launcher');
    assert.ok(firstProcesses.length >= 6, `launcher, watchdogs, redis-server, api and worker: ${firstProcesses.join(' ')}`);

    first.child.kill('SIGKILL');
    await first.exited;
    // Started at once, while the killed start's Redis may still be writing its AOF.
    const second = launch({ ...env, PORT: String(await freePort()) });
    assert.equal(await second.outcome, 'ready', second.output());
    assert.ok(await eventually(() => firstProcesses.every((pid) => !isAlive(pid))), `still running: ${firstProcesses.filter(isAlive).join(' ')}`);

    const servers = redisServersIn(redisDir);
    assert.equal(servers.length, 1, `redis-servers on ${redisDir}: ${servers.join(' ')}`);
    assert.notEqual(servers[0], firstServer);
    const secondBase = bannerUrls(second).api;
    for (const id of jobIds) {
      const job = await request(secondBase, 'GET', `/v1/jobs/${id}`);
      assert.equal(job.status, 200, `job ${id} survived the kill`);
      assert.equal(job.body.status, 'queued');
    }

    second.child.kill('SIGTERM');
    assert.equal(await second.exited, 0);
    assert.deepEqual(redisServersIn(redisDir), [], 'a clean stop stops its Redis too');
  });

  test('two npm start at once on one data directory: one serves, the other is refused naming it; never a second Redis', async () => {
    const { redisDir, env } = await setting();
    const racers = [launch({ ...env, PORT: String(await freePort()) }), launch({ ...env, PORT: String(await freePort()) })];
    const outcomes = await Promise.all(racers.map((r) => r.outcome));
    const winner = racers[outcomes.indexOf('ready')];
    const loser = racers[outcomes.findIndex((o) => o !== 'ready')];
    assert.ok(winner && loser, `exactly one serves: ${JSON.stringify(outcomes)}`);
    assert.deepEqual(await loser.outcome, { exit: 1 });
    assert.match(loser.output(), new RegExp(`is in use by npm start \\(pid ${winner.pid}\\)`));
    assert.equal(redisServersIn(redisDir).length, 1);

    // Once the winner serves, the refusal also names its Redis.
    const redisPort = new URL(bannerUrls(winner).redis).port;
    const late = launch({ ...env, PORT: String(await freePort()) });
    assert.deepEqual(await late.outcome, { exit: 1 });
    assert.match(late.output(), new RegExp(`npm start \\(pid ${winner.pid}\\) of .*, whose redis-server \\(pid \\d+\\) listens on port ${redisPort}`));
    assert.match(late.output(), /INFERQ_DATA_DIR/);
    assert.equal(redisServersIn(redisDir).length, 1);
    assert.equal((await request(bannerUrls(winner).api, 'GET', '/readyz')).status, 200, 'the winner still serves');
  });

  test('a Redis left running on the directory: stopped cleanly (data kept) if this checkout\'s, refused if another\'s', async () => {
    const { redisDir, env } = await setting();
    leftOver = await startLocalRedis({ dataDir: redisDir, appendOnly: true });
    const client = new Redis(leftOver.url);
    await client.set('written-before', 'kept');
    client.disconnect();
    // Recorded as an earlier start whose launcher is gone would have left it.
    const earlier = await claimDataDir(redisDir, { checkout: '/elsewhere/inferq', launcherPid: exitedProcessPid(), notice: () => undefined });
    await earlier.update({ server: { pid: leftOver.pid, port: leftOver.port, runId: leftOver.runId } });

    const refused = launch(env);
    assert.deepEqual(await refused.outcome, { exit: 1 });
    assert.match(refused.output(), new RegExp(`redis-server \\(pid ${leftOver.pid}\\) on port ${leftOver.port}, left running by npm start of /elsewhere/inferq`));
    assert.ok(isAlive(leftOver.pid), 'another checkout\'s server is left alone');

    await earlier.update({ checkout: realpathSync(REPO_ROOT) });
    const started = launch(env);
    assert.equal(await started.outcome, 'ready', started.output());
    assert.match(started.output(), new RegExp(`stopping redis-server pid ${leftOver.pid} \\(port ${leftOver.port}\\)`));
    assert.ok(!isAlive(leftOver.pid));
    const servers = redisServersIn(redisDir);
    assert.equal(servers.length, 1);
    assert.notEqual(servers[0], leftOver.pid);
    const reader = new Redis(bannerUrls(started).redis);
    assert.equal(await reader.get('written-before'), 'kept', 'written to the AOF as it stopped, read back by the new server');
    reader.disconnect();
  });
});

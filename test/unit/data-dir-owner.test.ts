import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, test } from 'node:test';
import { claimDataDir, DataDirInUseError } from '../../scripts/lib/data-dir-owner.ts';
import { exitedProcessPid } from '../support/processes.ts';

const CHECKOUT = '/srv/inferq';
const quiet = () => undefined;


describe('data directory ownership (owner.<n>.json)', () => {
  const sleepers: ChildProcess[] = [];
  afterEach(() => {
    for (const sleeper of sleepers.splice(0)) sleeper.kill('SIGKILL');
  });
  /** A live process to stand for a running launcher. */
  const liveLauncher = (): number => {
    const sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
    sleepers.push(sleeper);
    assert.ok(sleeper.pid);
    return sleeper.pid;
  };
  const freshDir = () => path.join(mkdtempSync(path.join(os.tmpdir(), 'inferq-owner-')), 'redis');

  test('of concurrent claims exactly one wins; each other one is refused naming the winner', async () => {
    const dir = freshDir();
    const launchers = Array.from({ length: 6 }, liveLauncher);
    const outcomes = await Promise.allSettled(launchers.map((launcherPid) => claimDataDir(dir, { checkout: CHECKOUT, launcherPid, notice: quiet })));
    const won = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
    assert.equal(won.length, 1);
    const winner = won[0]?.record.launcherPid;
    for (const outcome of outcomes) {
      if (outcome.status === 'fulfilled') continue;
      assert.ok(outcome.reason instanceof DataDirInUseError, String(outcome.reason));
      assert.equal(outcome.reason.owner.launcherPid, winner);
      assert.match(outcome.reason.message, new RegExp(`npm start \\(pid ${winner}\\)`));
    }
    assert.deepEqual(readdirSync(dir), ['owner.1.json']);
  });

  test('a claim whose launcher is gone and that never recorded a server is taken over', async () => {
    const dir = freshDir();
    await claimDataDir(dir, { checkout: CHECKOUT, launcherPid: exitedProcessPid(), notice: quiet });
    const next = await claimDataDir(dir, { checkout: CHECKOUT, launcherPid: liveLauncher(), notice: quiet });
    assert.equal(path.basename(next.file), 'owner.2.json');
    assert.deepEqual(readdirSync(dir), ['owner.2.json'], 'the stale claim is removed');
  });

  test('a recorded server that no longer answers (its pid and port reused or free) does not hold the directory', async () => {
    const dir = freshDir();
    const stale = await claimDataDir(dir, { checkout: '/elsewhere', launcherPid: exitedProcessPid(), notice: quiet });
    // A live pid and a port nobody listens on: run_id cannot match, so nothing is stopped or waited for.
    await stale.update({ server: { pid: liveLauncher(), port: 1, runId: 'f'.repeat(40) } });
    const next = await claimDataDir(dir, { checkout: CHECKOUT, launcherPid: liveLauncher(), notice: quiet });
    assert.equal(path.basename(next.file), 'owner.2.json');
    assert.ok(sleepers.every((s) => s.exitCode === null && s.signalCode === null), 'no process was signalled');
  });

  test('a clean stop releases the directory although its launcher still runs', async () => {
    const dir = freshDir();
    const first = await claimDataDir(dir, { checkout: CHECKOUT, launcherPid: liveLauncher(), notice: quiet });
    await assert.rejects(claimDataDir(dir, { checkout: CHECKOUT, launcherPid: liveLauncher(), notice: quiet }), DataDirInUseError);
    await first.update({ stoppedAt: new Date().toISOString() });
    const second = await claimDataDir(dir, { checkout: CHECKOUT, launcherPid: liveLauncher(), notice: quiet });
    assert.equal(path.basename(second.file), 'owner.2.json');
    assert.ok(!existsSync(first.file));
  });
});

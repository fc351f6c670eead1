import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

/** The pid of a process that has already exited: an owner that is gone. */
export function exitedProcessPid(): number {
  const pid = spawnSync(process.execPath, ['-e', '']).pid;
  assert.ok(pid);
  return pid;
}

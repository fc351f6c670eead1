import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';

/**
 * Runs "$@" under a few lines of POSIX sh that tie it to this (owner) process, whatever way the
 * owner ends: the watchdog's stdin is a pipe whose only write end is ours, so EOF on it means the
 * owner has exited (a clean exit, a crash, SIGKILL, an OOM kill) or asked for a stop by closing
 * it; either way the command gets SIGTERM and stops as cleanly as it can. SIGTERM, SIGINT or
 * SIGHUP sent to the watchdog reach the command as SIGTERM. The watchdog exits with the command's
 * status once the command has exited. A watcher subshell holds the pipe, so even a SIGKILL of the
 * watchdog shell alone leaves the command tied to its owner. The shell's own job notices
 * ("Terminated") go to /dev/null; the command keeps the real stderr.
 */
const WATCHDOG_SH = `
exec 3<&0 4>&2 2>/dev/null
"$@" </dev/null 2>&4 3<&- 4>&- &
command=$!
trap 'kill -TERM "$command" 2>/dev/null' TERM INT HUP
(trap - TERM INT HUP; while read -r _ <&3; do :; done; kill -TERM "$command" 2>/dev/null) &
watcher=$!
exec 3<&- 4>&-
status=0
while :; do
  wait "$command"; status=$?
  kill -0 "$command" 2>/dev/null || break
done
kill "$watcher" 2>/dev/null
exit "$status"
`;

export interface OwnedProcessOptions {
  cwd?: string;
  /** Default: this process's environment. */
  env?: NodeJS.ProcessEnv;
  /** Where the command's stdout goes. Default: 'ignore'. */
  stdout?: 'ignore' | 'inherit' | 'pipe';
  /** Where the command's stderr goes. Default: 'inherit'. */
  stderr?: 'ignore' | 'inherit' | 'pipe';
}

/**
 * Starts command in its own process group (so a terminal's Ctrl-C reaches only its owner, which
 * stops things in order) under the watchdog above. The returned child is the watchdog: its exit
 * is the command's exit, `child.kill('SIGTERM')` or `releaseOwnedProcess` stops the command, and
 * `killOwnedProcessGroup` kills everything at once.
 */
export function spawnOwnedProcess(command: string, args: readonly string[], options: OwnedProcessOptions = {}): ChildProcess {
  const stdio: StdioOptions = ['pipe', options.stdout ?? 'ignore', options.stderr ?? 'inherit'];
  const child = spawn('/bin/sh', ['-c', WATCHDOG_SH, 'inferq-watchdog', command, ...args], {
    cwd: options.cwd,
    env: options.env,
    stdio,
    detached: true,
  });
  // The pipe breaks when the watchdog has already gone; the exit event reports that.
  child.stdin?.on('error', () => undefined);
  return child;
}

/** Closes the owner's end of the pipe: the command gets SIGTERM, as if its owner had exited. */
export function releaseOwnedProcess(child: ChildProcess): void {
  child.stdin?.end();
}

/** SIGKILL (or signal) to the watchdog, the command and anything the command started. */
export function killOwnedProcessGroup(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): void {
  // Once the watchdog has exited its group id may be reused: never signal it then.
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // ESRCH: the whole group has already exited.
  }
}

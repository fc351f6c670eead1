import type { ChildProcess } from 'node:child_process';
import os from 'node:os';
import { killOwnedProcessGroup, spawnOwnedProcess } from './owner-watchdog.ts';

export interface ServiceExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ServiceProcess {
  name: string;
  /** The owner watchdog that runs the service (see owner-watchdog.ts). */
  child: ChildProcess;
  /** Settles once, when the process has exited (or could not be spawned). */
  exited: Promise<ServiceExit>;
  /** Resolves at the first stdout line that is a pino line with this msg. */
  waitForLog(msg: string): Promise<void>;
  /** SIGTERM, then SIGKILL if it is still running after graceMs. */
  stop(graceMs: number): Promise<ServiceExit>;
  /** SIGKILL to the service and its watchdog at once. */
  kill(): void;
}

export interface SpawnServiceOptions {
  name: string;
  /** Compiled entry point (apps/<name>/dist/main.js), run by this Node binary. */
  entry: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
}

/**
 * Runs one inferq process with its stdout/stderr copied to ours. It gets its own process group so
 * that a terminal's Ctrl-C reaches only the supervisor, which then stops everything in order; and
 * an owner watchdog, so that it gets SIGTERM if the supervisor dies without stopping it.
 */
export function spawnService(options: SpawnServiceOptions): ServiceProcess {
  const child = spawnOwnedProcess(process.execPath, [options.entry], {
    cwd: options.cwd,
    env: options.env,
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const { stdout, stderr } = child;
  if (!stdout || !stderr) throw new Error(`${options.name}: no output pipes`);
  stdout.pipe(process.stdout, { end: false });
  stderr.pipe(process.stderr, { end: false });

  const exited = new Promise<ServiceExit>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    // A failed spawn emits 'error' and never 'exit'.
    child.once('error', () => resolve({ code: null, signal: null }));
  });

  const waitForLog = (msg: string) =>
    new Promise<void>((resolve) => {
      let pending = '';
      const onData = (chunk: Buffer) => {
        const lines = (pending + chunk.toString('utf8')).split('\n');
        pending = lines.pop() ?? '';
        if (lines.some((line) => isLogLine(line, msg))) {
          stdout.off('data', onData);
          resolve();
        }
      };
      stdout.on('data', onData);
    });

  const stop = async (graceMs: number) => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => killOwnedProcessGroup(child), graceMs);
      await exited;
      clearTimeout(timer);
    }
    return exited;
  };

  return { name: options.name, child, exited, waitForLog, stop, kill: () => killOwnedProcessGroup(child) };
}

/** JSON lines are matched on msg; pretty-printed ones (INFERQ_LOG_PRETTY) on the text. */
function isLogLine(line: string, msg: string): boolean {
  try {
    return (JSON.parse(line) as { msg?: unknown }).msg === msg;
  } catch {
    return line.includes(msg);
  }
}

export function describeExit({ code, signal }: ServiceExit): string {
  if (signal) return `killed by ${signal}`;
  if (code === null) return 'could not be started';
  // The watchdog's shell reports a service killed by signal n as exit code 128 + n.
  const killedBy = code > 128 ? Object.entries(os.constants.signals).find(([, n]) => n === code - 128)?.[0] : undefined;
  return killedBy ? `killed by ${killedBy}` : `exit code ${code}`;
}

/** Polls url until it answers 200; rejects after timeoutMs or when signal aborts. */
export async function waitForHttpOk(url: string, options: { intervalMs: number; timeoutMs: number; signal: AbortSignal }): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    options.signal.throwIfAborted();
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      await response.body?.cancel();
      if (response.status === 200) return;
    } catch {
      // Not listening yet, or Redis not reachable yet: keep polling until the deadline.
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer 200 within ${Math.round(options.timeoutMs / 1000)} s`);
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs));
  }
}

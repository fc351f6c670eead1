import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, SOURCE_NODE_FLAGS } from '../../test/support/services.ts';

/**
 * A bench-only TypeScript script (load generator, baselines) as its own process. The API and
 * the worker are started with the tests' startService instead, exactly the way users run them.
 */
export interface BenchScript {
  child: ChildProcess;
  /** Resolves at the first stdout line that satisfies `match`. */
  waitForLine(match: (line: string) => boolean, timeoutMs?: number): Promise<string>;
  /** Resolves with the last JSON line printed once the script exits 0; rejects otherwise. */
  result<T>(): Promise<T>;
  stop(): Promise<void>;
}

export function spawnScript(script: string, args: string[] = [], env: Record<string, string> = {}): BenchScript {
  const child = spawn(process.execPath, [...SOURCE_NODE_FLAGS, path.join(REPO_ROOT, 'bench', script), ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let partial = '';
  const watchers = new Set<(line: string) => void>();
  child.stdout?.on('data', (chunk: Buffer) => {
    const parts = (partial + chunk.toString('utf8')).split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) {
      lines.push(line);
      for (const watch of watchers) watch(line);
    }
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-4000);
  });
  // 'close', not 'exit': only then has all of stdout been read.
  const exited = new Promise<number | string>((resolve) => child.once('close', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  const failure = (why: string) => new Error(`${script} ${why}\n${stderr}${lines.slice(-5).join('\n')}`);

  return {
    child,
    waitForLine(match, timeoutMs = 120_000) {
      return new Promise((resolve, reject) => {
        const found = lines.find(match);
        if (found !== undefined) return resolve(found);
        const timer = setTimeout(() => reject(failure(`printed no expected line in ${timeoutMs} ms`)), timeoutMs);
        const watch = (line: string) => {
          if (!match(line)) return;
          clearTimeout(timer);
          watchers.delete(watch);
          resolve(line);
        };
        watchers.add(watch);
        void exited.then((code) => {
          clearTimeout(timer);
          reject(failure(`exited (${code}) before the expected line`));
        });
      });
    },
    async result<T>() {
      const code = await exited;
      if (partial) lines.push(partial);
      const last = [...lines].reverse().find((l) => l.startsWith('{'));
      if (code !== 0 || last === undefined) throw failure(`exited with ${code}`);
      return JSON.parse(last) as T;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Resident set size of a live process, from /proc (what the kernel charges it, in MiB). */
export function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1] ?? Number.NaN);
  return kb / 1024;
}

/** Samples a process's RSS every `intervalMs` until stopped; returns the samples. */
export function sampleRss(pid: number, intervalMs = 100): { stop(): number[] } {
  const samples: number[] = [];
  const take = () => {
    try {
      samples.push(rssMb(pid));
    } catch {
      // The process ended between samples; the samples so far still stand.
    }
  };
  take();
  const timer = setInterval(take, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      take();
      return samples;
    },
  };
}

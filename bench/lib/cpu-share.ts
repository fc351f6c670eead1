/**
 * How much of the machine other people's processes used while a scenario ran, and how the rest
 * split between the API, worker, Redis and load generator. On a shared 2-core machine the first
 * is what makes a number untrustworthy, and the second says what bounded it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';

/** Others' share of the machine above which a window counts as disturbed. */
export const FOREIGN_LIMIT = 0.1;

interface CpuSnapshot {
  /** All CPUs' ticks, busy and total, from /proc/stat. */
  busy: number;
  total: number;
  /** Ticks used by this process and every descendant it has reaped or still runs. */
  ours: number;
  /** Ticks of each live descendant. */
  processes: Map<number, number>;
}

function procTicks(stat: string, fields: number[]): number {
  // Fields after the command name, which may itself contain spaces and parentheses.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields.reduce((sum, f) => sum + Number(rest[f - 3] ?? 0), 0);
}

function descendants(root: number): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parentOf.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // Gone between readdir and read.
    }
  }
  const found: number[] = [];
  const frontier = [root];
  while (frontier.length > 0) {
    const pid = frontier.pop() as number;
    for (const [child, parent] of parentOf) {
      if (parent === pid) {
        found.push(child);
        frontier.push(child);
      }
    }
  }
  return found;
}

/** What a process is, from its command line, so a share can be said per part of the system. */
function label(pid: number): string {
  let cmd = '';
  try {
    cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return 'other';
  }
  if (cmd.includes('redis-server')) return 'redis';
  const script = /(apps\/api|apps\/worker|bench\/children\/[\w-]+)/.exec(cmd)?.[1];
  return script ? script.replace('apps/', '').replace('bench/children/', '') : 'other';
}

function snapshot(): CpuSnapshot {
  const cpu = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  const total = cpu.reduce((a, b) => a + b, 0);
  const idle = (cpu[3] ?? 0) + (cpu[4] ?? 0);
  // utime, stime, and the reaped children's cutime, cstime (fields 14-17 of /proc/<pid>/stat).
  let ours = procTicks(readFileSync('/proc/self/stat', 'utf8'), [14, 15, 16, 17]);
  const processes = new Map<number, number>();
  for (const pid of descendants(process.pid)) {
    try {
      const ticks = procTicks(readFileSync(`/proc/${pid}/stat`, 'utf8'), [14, 15]);
      ours += ticks;
      processes.set(pid, ticks);
    } catch {
      // Exited meanwhile: its ticks now sit in our cutime/cstime.
    }
  }
  return { busy: total - idle, total, ours, processes };
}

export interface CpuShare {
  /** Share of all cores' time (0..1) our processes used. */
  ours: number;
  /** Share of all cores' time (0..1) anybody else used: above ~0.1 the numbers are disturbed. */
  foreign: number;
  /**
   * Cores (1 = one core fully busy) used by each part still running at the window's end: api,
   * worker, redis, a bench child; 'load generator + bench' is the bench itself and the children
   * that exited before the end (the load generator, the baselines).
   */
  cores: Record<string, number>;
}

export function startCpuShare(): { stop(): CpuShare } {
  const before = snapshot();
  return {
    stop() {
      const after = snapshot();
      const total = Math.max(1, after.total - before.total);
      const busy = after.busy - before.busy;
      const ours = Math.max(0, after.ours - before.ours);
      const coreCount = os.availableParallelism();
      const cores: Record<string, number> = {};
      let labelled = 0;
      for (const [pid, ticks] of after.processes) {
        // A process started during the window used all its ticks in it.
        const start = before.processes.get(pid) ?? 0;
        const name = label(pid);
        cores[name] = (cores[name] ?? 0) + ((ticks - start) * coreCount) / total;
        labelled += ticks - start;
      }
      cores['load generator + bench'] = ((ours - labelled) * coreCount) / total;
      return { ours: ours / total, foreign: Math.max(0, busy - ours) / total, cores };
    },
  };
}

/** Of two windows, the one others disturbed most: a scenario is as trustworthy as its worst. */
export function worse(a: CpuShare | undefined, b: CpuShare): CpuShare {
  return a && a.foreign >= b.foreign ? a : b;
}

/** "api 0.95, redis 0.40, ..." in cores, busiest first. */
export function describeCores(share: CpuShare): string {
  return Object.entries(share.cores)
    .filter(([, c]) => c >= 0.01)
    .sort((a, b) => b[1] - a[1])
    .map(([name, c]) => `${name} ${c.toFixed(2)}`)
    .join(', ');
}

let quietBudgetMs = 0;

/** How long, over the whole run, measurements may wait for other people's load to pass. */
export function setQuietBudget(ms: number): void {
  quietBudgetMs = ms;
}

/**
 * Waits, in 1 s steps and within the run's budget, until other processes use less than
 * FOREIGN_LIMIT of the machine: on a shared machine (others' test suites come in bursts) that
 * is the difference between a number and noise. Returns the last foreign share seen.
 */
export async function waitForQuiet(): Promise<number> {
  for (let waited = 0; ; waited += 1) {
    const share = startCpuShare();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const { foreign } = share.stop();
    if (foreign < FOREIGN_LIMIT || quietBudgetMs <= 0) {
      if (waited > 0) process.stderr.write(`[bench] waited ${waited} s for other processes' load to pass (now ${Math.round(foreign * 100)} %)\n`);
      return foreign;
    }
    quietBudgetMs -= 1_000;
  }
}

/**
 * Runs a measurement and, while the quiet budget lasts, runs it again if other processes
 * disturbed it (up to `attempts` times); keeps the least disturbed attempt. `cpuOf` picks the
 * window that counts when the measurement times only part of what it runs.
 */
export async function measureQuietly<T>(run: () => Promise<T>, options: { attempts?: number; cpuOf?: (value: T) => CpuShare } = {}): Promise<{ value: T; cpu: CpuShare; attempts: number }> {
  let best: { value: T; cpu: CpuShare; attempts: number } | undefined;
  for (let attempt = 1; attempt <= (options.attempts ?? 3); attempt += 1) {
    await waitForQuiet();
    const started = Date.now();
    const share = startCpuShare();
    const value = await run();
    const whole = share.stop();
    const cpu = options.cpuOf?.(value) ?? whole;
    if (!best || cpu.foreign < best.cpu.foreign) best = { value, cpu, attempts: attempt };
    if (cpu.foreign <= FOREIGN_LIMIT || quietBudgetMs <= 0) break;
    quietBudgetMs -= Date.now() - started;
    process.stderr.write(`[bench] other processes used ${Math.round(cpu.foreign * 100)} % of the machine during a measurement: running it again\n`);
  }
  return best as { value: T; cpu: CpuShare; attempts: number };
}

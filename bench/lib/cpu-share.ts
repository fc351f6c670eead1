import { readdirSync, readFileSync } from 'node:fs';

/**
 * How much of the machine other people's processes used while a scenario ran. On a shared
 * 2-core machine that is what makes a number untrustworthy, so every scenario reports it.
 */
interface CpuSnapshot {
  /** All CPUs' ticks, busy and total, from /proc/stat. */
  busy: number;
  total: number;
  /** Ticks used by this process and every descendant it has reaped or still runs. */
  ours: number;
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

function snapshot(): CpuSnapshot {
  const cpu = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  const total = cpu.reduce((a, b) => a + b, 0);
  const idle = (cpu[3] ?? 0) + (cpu[4] ?? 0);
  // utime, stime, and the reaped children's cutime, cstime (fields 14-17 of /proc/<pid>/stat).
  let ours = procTicks(readFileSync('/proc/self/stat', 'utf8'), [14, 15, 16, 17]);
  for (const pid of descendants(process.pid)) {
    try {
      ours += procTicks(readFileSync(`/proc/${pid}/stat`, 'utf8'), [14, 15]);
    } catch {
      // Exited meanwhile: its ticks now sit in our cutime/cstime.
    }
  }
  return { busy: total - idle, total, ours };
}

export interface CpuShare {
  /** Share of all cores' time (0..1) our processes used. */
  ours: number;
  /** Share of all cores' time (0..1) anybody else used: above ~0.1 the numbers are disturbed. */
  foreign: number;
}

export function startCpuShare(): { stop(): CpuShare } {
  const before = snapshot();
  return {
    stop() {
      const after = snapshot();
      const total = Math.max(1, after.total - before.total);
      const busy = after.busy - before.busy;
      const ours = Math.max(0, after.ours - before.ours);
      return { ours: ours / total, foreign: Math.max(0, busy - ours) / total };
    },
  };
}

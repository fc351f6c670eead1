/**
 * `npx tsx bench/profile-summary.ts <file.cpuprofile | folder> [--top N] [--callers NAME]`
 *
 * Summarises V8 CPU profiles written by `npm run bench -- --profile`: where the busy time went by
 * package, and the hottest functions by self and by inclusive time; `--callers NAME` adds the
 * call paths that lead to a function's self time. Enough to say what bounds a number without
 * opening DevTools.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const IDLE = new Set(['(idle)']);

/** node_modules/<package> for dependencies, the repo-relative folder for inferq's own code. */
function owner(url: string, name: string): string {
  if (!url) return name.startsWith('(') ? name : '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1] as string;
  if (url.startsWith('node:')) return 'node core';
  const repo = /\/(apps\/[^/]+|packages\/[^/]+|bench)\//.exec(url);
  return repo ? (repo[1] as string) : url;
}

function frameKey(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const where = url ? `${url.replace(/^.*\/(node_modules\/|apps\/|packages\/)/, '$1')}:${lineNumber + 1}` : '';
  return `${functionName || '(anonymous)'} ${where}`.trim();
}

function top(map: Map<string, number>, total: number, n: number): string[] {
  return [...map.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([key, us]) => `  ${((100 * us) / total).toFixed(1).padStart(5)} %  ${(us / 1000).toFixed(0).padStart(6)} ms  ${key}`);
}

export function summarizeProfile(file: string, n = 15, callersOf?: string): string {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const packages = new Map<string, number>();
  const callerPaths = new Map<string, number>();
  let busy = 0;
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    const delta = profile.timeDeltas[i] ?? 0;
    if (!node || IDLE.has(node.callFrame.functionName)) return;
    busy += delta;
    const key = frameKey(node);
    self.set(key, (self.get(key) ?? 0) + delta);
    if (callersOf && node.callFrame.functionName === callersOf) {
      const chain: string[] = [];
      // Node's own stream plumbing says nothing about who wrote: skip to the code that called it.
      for (let at = parent.get(id); at !== undefined && chain.length < 3; at = parent.get(at)) {
        const frame = byId.get(at);
        if (frame?.callFrame.url && !frame.callFrame.url.startsWith('node:')) chain.push(frameKey(frame));
      }
      const route = chain.join(' < ');
      callerPaths.set(route, (callerPaths.get(route) ?? 0) + delta);
    }
    const pkg = owner(node.callFrame.url, node.callFrame.functionName);
    packages.set(pkg, (packages.get(pkg) ?? 0) + delta);
    // Each function once per sample, however deep it recurses.
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at);
      if (!frame || frame.callFrame.functionName === '(root)') continue;
      const k = frameKey(frame);
      if (seen.has(k)) continue;
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + delta);
    }
  });
  const wall = profile.endTime - profile.startTime;
  return [
    `${file}`,
    `  wall ${(wall / 1e6).toFixed(1)} s, main thread busy ${(busy / 1e6).toFixed(1)} s (${((100 * busy) / wall).toFixed(0)} %)`,
    'busy time by package (self):',
    ...top(packages, busy, 10),
    'hottest functions (self):',
    ...top(self, busy, n),
    'hottest functions (inclusive):',
    ...top(inclusive, busy, n),
    ...(callersOf ? [`callers of ${callersOf} (self time, the 3 nearest frames outside Node core):`, ...top(callerPaths, busy, n)] : []),
  ].join('\n');
}

function profilesIn(target: string): string[] {
  if (!statSync(target).isDirectory()) return [target];
  return readdirSync(target, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => path.join(target, f))
    .sort();
}

const args = process.argv.slice(2);
const topArg = args.indexOf('--top');
const n = topArg >= 0 ? Number(args[topArg + 1]) : 15;
const callersArg = args.indexOf('--callers');
const callersOf = callersArg >= 0 ? args[callersArg + 1] : undefined;
const targets = args.filter((a, i) => !a.startsWith('--') && (topArg < 0 || i !== topArg + 1) && (callersArg < 0 || i !== callersArg + 1));
if (targets.length === 0) {
  console.error('usage: tsx bench/profile-summary.ts <file.cpuprofile | folder> [--top N]');
  process.exit(2);
}
for (const file of targets.flatMap(profilesIn)) console.log(`${summarizeProfile(file, n, callersOf)}\n`);

import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from '../../test/support/services.ts';
import { FOREIGN_LIMIT, type CpuShare } from './cpu-share.ts';
import { round } from './stats.ts';

export interface Row {
  metric: string;
  /** null: not measured (n/a). */
  value: number | null;
  unit: string;
  baseline?: { name: string; value: number };
  /** value / baseline, or another ratio the goal is stated in. */
  ratio?: number;
  goal?: string;
  pass?: boolean;
}

export interface ScenarioResult {
  id: string;
  title: string;
  rows: Row[];
  /** The worst window's CPU shares while the scenario measured. */
  cpu?: CpuShare;
  notes: string[];
  details?: unknown;
  /** This scenario's keys of the one-line JSON summary printed last. */
  summary?: Record<string, number | null>;
}

export interface MachineInfo {
  date: string;
  cores: number;
  cpuModel: string;
  memoryGiB: number;
  os: string;
  node: string;
  redis: string;
  onnxruntime: string;
  bullmq: string;
  commit: string;
  loadAverage: number[];
}


function packageVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(path.join(REPO_ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export function machineInfo(redisVersion: string): MachineInfo {
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
    if (execFileSync('git', ['status', '--porcelain'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim()) commit += ' (+ uncommitted changes)';
  } catch {
    // Not a git checkout: the commit is simply unknown.
  }
  return {
    date: new Date().toISOString(),
    cores: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: round(os.totalmem() / 2 ** 30, 1),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    redis: redisVersion,
    onnxruntime: `onnxruntime-node ${packageVersion('onnxruntime-node')}`,
    bullmq: packageVersion('bullmq'),
    commit,
    loadAverage: os.loadavg().map((l) => round(l, 2)),
  };
}

function show(value: number | null, unit: string): string {
  if (value === null || !Number.isFinite(value)) return 'n/a';
  const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2;
  return `${round(value, digits).toLocaleString('en-US')} ${unit}`.trim();
}

function status(row: Row): string {
  if (row.pass === undefined) return '';
  return row.pass ? 'PASS' : 'MISS';
}

function cells(scenario: ScenarioResult, row: Row): string[] {
  return [
    scenario.id,
    row.metric,
    show(row.value, row.unit),
    row.baseline ? `${row.baseline.name}: ${show(row.baseline.value, row.unit)}` : '',
    row.ratio === undefined ? '' : `${round(row.ratio, 2)}×`,
    row.goal ?? '',
    status(row),
  ];
}

const HEADER = ['#', 'metric', 'value', 'baseline (same run)', 'ratio', 'goal', ''];

function foreignNote(scenario: ScenarioResult): string | undefined {
  if (!scenario.cpu) return undefined;
  const pct = `${Math.round(scenario.cpu.foreign * 100)} %`;
  return scenario.cpu.foreign > FOREIGN_LIMIT ? `DISTURBED: other processes used ${pct} of the machine` : `other processes used ${pct} of the machine`;
}

export function textTable(scenarios: ScenarioResult[]): string {
  const body = scenarios.flatMap((s) => s.rows.map((r) => cells(s, r)));
  const widths = HEADER.map((h, i) => Math.max(h.length, ...body.map((c) => (c[i] ?? '').length)));
  const line = (c: string[]) => c.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  const out = [line(HEADER), widths.map((w) => '-'.repeat(w)).join('  ')];
  for (const s of scenarios) {
    out.push(`${s.id}. ${s.title}${foreignNote(s) ? `  [${foreignNote(s)}]` : ''}`);
    for (const r of s.rows) out.push(line(cells(s, r)));
  }
  return out.join('\n');
}

export function goalLines(scenarios: ScenarioResult[]): string[] {
  return scenarios.flatMap((s) =>
    s.rows.filter((r) => r.pass !== undefined).map((r) => `${status(r)}  ${s.id}. ${r.metric}: ${r.ratio !== undefined ? `${round(r.ratio, 2)}×` : show(r.value, r.unit)} (goal ${r.goal})`),
  );
}

function markdown(machine: MachineInfo, mode: string, scenarios: ScenarioResult[], summary: Record<string, unknown>): string {
  const escapeCell = (c: string) => c.replace(/\|/g, '\\|');
  const rows = scenarios.flatMap((s) => s.rows.map((r) => `| ${cells(s, r).map(escapeCell).join(' | ')} |`));
  return [
    `# inferq bench, ${mode} run, ${machine.date}`,
    '',
    `${machine.cores} cores (${machine.cpuModel}), ${machine.memoryGiB} GiB, ${machine.os}; Node ${machine.node}, Redis ${machine.redis}, ${machine.onnxruntime}, BullMQ ${machine.bullmq}; commit ${machine.commit}; load average at start ${machine.loadAverage.join(' ')}.`,
    '',
    `| ${HEADER.join(' | ')} |`,
    `|${HEADER.map(() => '---').join('|')}|`,
    ...rows,
    '',
    '## Goals',
    '',
    ...goalLines(scenarios).map((l) => `- ${l}`),
    '',
    '## Notes',
    '',
    ...scenarios.flatMap((s) => [foreignNote(s), ...s.notes].filter(Boolean).map((n) => `- ${s.id}. ${n}`)),
    '',
    '## Summary',
    '',
    '```json',
    JSON.stringify(summary, null, 2),
    '```',
    '',
  ].join('\n');
}

/** Writes bench/results/<date>-<mode>.{json,md}; returns their paths. */
export function writeResults(machine: MachineInfo, mode: string, settings: unknown, scenarios: ScenarioResult[], summary: Record<string, unknown>): string[] {
  const dir = path.join(REPO_ROOT, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const stamp = machine.date.replace(/:/g, '').replace(/\.\d+Z$/, 'Z');
  const base = path.join(dir, `${stamp}-${mode}`);
  writeFileSync(`${base}.json`, `${JSON.stringify({ machine, mode, settings, summary, scenarios }, null, 2)}\n`);
  writeFileSync(`${base}.md`, markdown(machine, mode, scenarios, summary));
  return [`${base}.json`, `${base}.md`];
}

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { LoadPlan, LoadResult } from '../children/load-generator.ts';
import { spawnScript } from './processes.ts';

export type { LoadPlan, LoadResult };

/** Plans larger than this (image bodies) go through a file: argv has a size limit (E2BIG). */
const ARGV_LIMIT = 64 * 1024;

/** Runs one load plan in a separate load-generator process and returns what it measured. */
export async function runLoad(plan: LoadPlan): Promise<LoadResult> {
  const text = JSON.stringify(plan);
  if (text.length <= ARGV_LIMIT) return spawnScript('children/load-generator.ts', [text]).result<LoadResult>();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'inferq-bench-'));
  try {
    const file = path.join(dir, 'plan.json');
    writeFileSync(file, text);
    return await spawnScript('children/load-generator.ts', [`@${file}`]).result<LoadResult>();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

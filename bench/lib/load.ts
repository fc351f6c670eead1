import type { LoadPlan, LoadResult } from '../children/load-generator.ts';
import { spawnScript } from './processes.ts';

export type { LoadPlan, LoadResult };

/** Runs one load plan in a separate load-generator process and returns what it measured. */
export function runLoad(plan: LoadPlan): Promise<LoadResult> {
  return spawnScript('children/load-generator.ts', [JSON.stringify(plan)]).result<LoadResult>();
}

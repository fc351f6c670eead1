/** How long and how hard each scenario runs; `--quick` runs the same scenarios shorter. */
export interface Settings {
  mode: 'quick' | 'full';
  /** Closed-loop clients for saturation (scenario 1): enough to keep fraud-risk's batches full. */
  concurrency: number;
  warmupMs: number;
  throughputMs: number;
  /** Per open-loop level (scenario 4). */
  levelMs: number;
  levels: number[];
  overloadMs: number;
  /** The load generator's in-flight cap under overload, so the client itself stays bounded. */
  overloadInFlight: number;
  redisJobs: number;
  /** NDJSON rows of the batch scoring file (scenario 5). */
  batchRows: number;
  batchingJobs: number;
  /** 64-row jobs drained for scenario 3. */
  overheadJobs: number;
  rawOrtMs: number;
  /** Copies of each of the 7 OCR lines drained for scenario 3's OCR half. */
  ocrCopies: number;
  /** Most the whole run may wait for other people's load to pass before measuring. */
  quietBudgetMs: number;
}

const LEVELS = [0.1, 0.3, 0.5, 0.7, 0.9];

export const SETTINGS: Record<Settings['mode'], Settings> = {
  quick: {
    mode: 'quick',
    concurrency: 64,
    warmupMs: 1_000,
    throughputMs: 5_000,
    levelMs: 3_000,
    levels: LEVELS,
    overloadMs: 3_000,
    overloadInFlight: 5_000,
    redisJobs: 20_000,
    batchRows: 200_000,
    batchingJobs: 10_000,
    overheadJobs: 500,
    rawOrtMs: 3_000,
    ocrCopies: 10,
    quietBudgetMs: 20_000,
  },
  full: {
    mode: 'full',
    concurrency: 64,
    warmupMs: 3_000,
    throughputMs: 30_000,
    levelMs: 15_000,
    levels: LEVELS,
    overloadMs: 8_000,
    overloadInFlight: 10_000,
    redisJobs: 100_000,
    batchRows: 1_000_000,
    batchingJobs: 60_000,
    overheadJobs: 3_000,
    rawOrtMs: 15_000,
    ocrCopies: 40,
    quietBudgetMs: 300_000,
  },
};

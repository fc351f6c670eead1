import { performance } from 'node:perf_hooks';
import { type InferencePool, RunFailedError } from './inference-pool.ts';
import { concatRows, splitRows, TensorDecodeError, type BatchPart, type RawTensor } from './tensor-codec.ts';

export interface DynamicBatcherOptions {
  /** Most rows in one `session.run`. A single item with more rows still runs, alone. */
  maxBatchSize: number;
  /** Longest the oldest waiting item waits for neighbours once a thread is free. */
  maxWaitMs: number;
  /** Fills the padding when items of one batch key differ in size (images). Default: 0. */
  padValue?: number;
  /** Told of every `session.run` that succeeded: its rows and duration (for metrics). */
  onRun?: (rows: number, inferenceMs: number) => void;
}

export interface BatchItemOutcome {
  /** Set when the item ran; its rows of every output. */
  outputs?: Record<string, RawTensor>;
  /** Set when the model rejected this item (found by bisecting a failed batch). */
  error?: RunFailedError;
  /** Rows in the `session.run` that produced this outcome. */
  batchRows: number;
  inferenceMs: number;
}

interface Item {
  feeds: Record<string, BatchPart>;
  rows: number;
  key: string;
  enqueuedAt: number;
  resolve: (outcome: BatchItemOutcome) => void;
  reject: (error: Error) => void;
}

/**
 * Triton-style dynamic batching in front of an InferencePool. A batch is handed to a free thread
 * when it holds `maxBatchSize` rows or its oldest item has waited `maxWaitMs`; while every thread
 * is busy items keep accumulating, so batches grow with load and stay small when idle.
 *
 * Items succeed or fail on their own: when a batch run throws, it is split in halves and re-run
 * until the failing items are alone, so one bad input never fails its neighbours. A crashed
 * thread is not bisected: every item of that batch is rejected for a retry.
 */
export class DynamicBatcher {
  private readonly waiting: Item[] = [];
  private waitingRows = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly pool: InferencePool,
    private readonly options: DynamicBatcherOptions,
  ) {}

  /**
   * Queues one job's rows. Only items with the same `key` share a batch: tensors of different
   * shapes, or images from different width buckets.
   */
  submit(feeds: Record<string, BatchPart>, rows: number, key = ''): Promise<BatchItemOutcome> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ feeds, rows, key, enqueuedAt: performance.now(), resolve, reject });
      this.waitingRows += rows;
      this.pump();
    });
  }

  /** Called when items arrive and when a pool thread can take more work. */
  pump(): void {
    while (this.waiting.length > 0) {
      if (this.pool.idleThreads > 0) {
        const oldest = this.waiting[0] as Item;
        const waited = performance.now() - oldest.enqueuedAt;
        if (this.waitingRows < this.options.maxBatchSize && waited < this.options.maxWaitMs) {
          this.armTimer(this.options.maxWaitMs - waited);
          return;
        }
      } else if (this.pool.queueableThreads === 0 || !this.fullBatchWaiting()) {
        // Every thread is busy: items keep accumulating; only a full batch queues behind a run.
        return;
      }
      void this.execute(this.take());
    }
  }

  /** Whether the oldest item's key has maxBatchSize rows waiting. */
  private fullBatchWaiting(): boolean {
    if (this.waitingRows < this.options.maxBatchSize) return false;
    const key = (this.waiting[0] as Item).key;
    let rows = 0;
    for (const item of this.waiting) {
      if (item.key !== key) continue;
      rows += item.rows;
      if (rows >= this.options.maxBatchSize) return true;
    }
    return false;
  }

  private armTimer(delayMs: number): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.pump();
    }, Math.max(0, Math.ceil(delayMs)));
  }

  /** The oldest item and those after it with the same key, up to maxBatchSize rows. */
  private take(): Item[] {
    const key = (this.waiting[0] as Item).key;
    const batch: Item[] = [];
    const rest: Item[] = [];
    let rows = 0;
    for (const item of this.waiting) {
      const fits = batch.length === 0 || rows + item.rows <= this.options.maxBatchSize;
      if (item.key === key && fits) {
        batch.push(item);
        rows += item.rows;
      } else {
        rest.push(item);
      }
    }
    this.waiting.length = 0;
    this.waiting.push(...rest);
    this.waitingRows -= rows;
    if (this.waiting.length === 0 && this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    return batch;
  }

  private async execute(batch: Item[]): Promise<void> {
    try {
      await this.runIsolating(batch, true);
    } catch (error) {
      for (const item of batch) item.reject(error as Error);
    }
  }

  /**
   * Runs a batch; on a model error, bisects so only the failing items fail. `dispatched`: pump
   * found a thread for it (idle, or busy with room to queue a full batch).
   */
  private async runIsolating(batch: Item[], dispatched = false): Promise<void> {
    const rowCounts = batch.map((i) => i.rows);
    const batchRows = rowCounts.reduce((a, b) => a + b, 0);
    const names = Object.keys((batch[0] as Item).feeds);
    try {
      const feeds: Record<string, RawTensor> = {};
      for (const name of names) feeds[name] = this.concat(batch, name);
      const { outputs, inferenceMs } = await (dispatched ? this.pool.run(feeds) : this.runWhenIdle(feeds));
      this.options.onRun?.(batchRows, inferenceMs);
      const perItem = Object.entries(outputs).map(([name, tensor]) => [name, splitRows(tensor, rowCounts)] as const);
      batch.forEach((item, index) => {
        const itemOutputs: Record<string, RawTensor> = {};
        for (const [name, parts] of perItem) itemOutputs[name] = parts[index] as RawTensor;
        item.resolve({ outputs: itemOutputs, batchRows, inferenceMs });
      });
    } catch (error) {
      if (!(error instanceof RunFailedError)) throw error;
      if (batch.length === 1) {
        (batch[0] as Item).resolve({ error, batchRows, inferenceMs: 0 });
        return;
      }
      const middle = Math.ceil(batch.length / 2);
      await Promise.all([this.runIsolating(batch.slice(0, middle)), this.runIsolating(batch.slice(middle))]);
    }
  }

  /** One input of the batch in one buffer; an item whose bytes do not decode fails alone, as a model rejection does. */
  private concat(batch: Item[], name: string): RawTensor {
    try {
      return concatRows(batch.map((i) => i.feeds[name] as BatchPart), this.options.padValue ?? 0);
    } catch (error) {
      if (error instanceof TensorDecodeError) throw new RunFailedError(`input ${name}: ${error.message}`);
      throw error;
    }
  }

  /** Bisected halves may find every thread busy; they wait their turn rather than fail. */
  private async runWhenIdle(feeds: Record<string, RawTensor>) {
    while (this.pool.idleThreads === 0) await new Promise((r) => setTimeout(r, 1));
    return this.pool.run(feeds);
  }

  get pendingItems(): number {
    return this.waiting.length;
  }
}

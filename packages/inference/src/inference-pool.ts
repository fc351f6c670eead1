import { Worker } from 'node:worker_threads';
import type { ThreadInit, ThreadMessage } from './inference-protocol.ts';
import type { RawTensor } from './tensor-codec.ts';

/** The model rejected this input (`session.run` threw): retrying the same input will not help. */
export class RunFailedError extends Error {
  override name = 'RunFailedError';
}

/** The thread running the batch died; the input may be fine, so the job is retried. */
export class ThreadCrashedError extends Error {
  override name = 'ThreadCrashedError';
}

export interface InferencePoolOptions {
  modelPath: string;
  /** Threads, each with its own session. Default: 1. */
  threads?: number;
  /** onnxruntime intra-op threads per session. Default: 1. */
  intraOpThreads?: number;
  /** Tried in order per thread. Default: ['cpu']. */
  executionProviders?: string[];
  warmupFeeds: Record<string, RawTensor>;
  /** Called when a thread becomes free, so a batcher can hand it the next batch. */
  onIdle?: () => void;
  /** Called once per distinct warning (e.g. a provider fell back to CPU). */
  onWarning?: (message: string) => void;
}

export interface RunResult {
  outputs: Record<string, RawTensor>;
  inferenceMs: number;
}

interface Pending {
  resolve: (result: RunResult) => void;
  reject: (error: Error) => void;
}

interface Slot {
  worker: Worker;
  busy: Pending & { id: number } | undefined;
}

const ENTRY = new URL('./inference-thread-entry.mjs', import.meta.url);
const THREAD_MODULE = new URL(import.meta.url.endsWith('.ts') ? './inference-thread.ts' : './inference-thread.js', import.meta.url).href;

function transferList(feeds: Record<string, RawTensor>): ArrayBuffer[] {
  const list: ArrayBuffer[] = [];
  for (const t of Object.values(feeds)) {
    // Only whole buffers can move; a view into a shared buffer is copied instead.
    if (t.data.buffer instanceof ArrayBuffer && t.data.byteOffset === 0 && t.data.byteLength === t.data.buffer.byteLength && !list.includes(t.data.buffer)) {
      list.push(t.data.buffer);
    }
  }
  return list;
}

/**
 * onnxruntime sessions on worker threads, one session per thread. `run` hands a batch to an idle
 * thread; callers (the batcher) check `idleThreads` first so batches keep growing while every
 * thread is busy, instead of queueing up small ones.
 */
export class InferencePool {
  private readonly slots: Slot[] = [];
  private nextId = 1;
  private closing = false;
  provider = 'unknown';

  private constructor(private readonly options: InferencePoolOptions) {}

  static async start(options: InferencePoolOptions): Promise<InferencePool> {
    const pool = new InferencePool(options);
    try {
      await Promise.all(Array.from({ length: options.threads ?? 1 }, () => pool.spawn()));
    } catch (error) {
      await pool.close();
      throw error;
    }
    return pool;
  }

  get idleThreads(): number {
    return this.slots.filter((s) => !s.busy).length;
  }

  get size(): number {
    return this.slots.length;
  }

  private spawn(): Promise<Slot> {
    const init: ThreadInit = {
      entry: THREAD_MODULE,
      modelPath: this.options.modelPath,
      intraOpThreads: this.options.intraOpThreads ?? 1,
      executionProviders: this.options.executionProviders ?? ['cpu'],
      warmupFeeds: this.options.warmupFeeds,
    };
    const worker = new Worker(ENTRY, { workerData: init });
    const slot: Slot = { worker, busy: undefined };
    return new Promise((resolve, reject) => {
      let ready = false;
      worker.on('message', (message: ThreadMessage) => {
        switch (message.kind) {
          case 'ready':
            ready = true;
            this.provider = message.provider;
            for (const warning of message.warnings) this.options.onWarning?.(warning);
            this.slots.push(slot);
            resolve(slot);
            this.options.onIdle?.();
            return;
          case 'init-failed':
            reject(new Error(message.message));
            void worker.terminate();
            return;
          case 'result':
          case 'run-failed': {
            const busy = slot.busy;
            if (!busy || busy.id !== message.id) return;
            slot.busy = undefined;
            if (message.kind === 'result') busy.resolve({ outputs: message.outputs, inferenceMs: message.inferenceMs });
            else busy.reject(new RunFailedError(message.message));
            this.options.onIdle?.();
            return;
          }
        }
      });
      worker.on('error', (error) => {
        if (!ready) reject(error);
      });
      worker.on('exit', (code) => {
        const index = this.slots.indexOf(slot);
        if (index >= 0) this.slots.splice(index, 1);
        slot.busy?.reject(new ThreadCrashedError(`inference thread exited with code ${code}`));
        slot.busy = undefined;
        if (!ready) reject(new Error(`inference thread exited with code ${code} before it was ready`));
        if (ready && !this.closing) {
          this.options.onWarning?.(`inference thread exited with code ${code}; starting a new one`);
          this.spawn().catch((error: Error) => this.options.onWarning?.(`could not restart inference thread: ${error.message}`));
        }
      });
    });
  }

  /** Runs one batch on an idle thread. Throws if none is idle: check `idleThreads` first. */
  run(feeds: Record<string, RawTensor>): Promise<RunResult> {
    const slot = this.slots.find((s) => !s.busy);
    if (!slot) return Promise.reject(new Error('InferencePool.run called with no idle thread'));
    const id = this.nextId++;
    return new Promise<RunResult>((resolve, reject) => {
      slot.busy = { id, resolve, reject };
      slot.worker.postMessage({ id, feeds }, transferList(feeds));
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
    this.slots.length = 0;
  }
}

import { Worker } from 'node:worker_threads';
import type { ThreadInit, ThreadMessage } from './inference-protocol.ts';
import type { RawTensor } from './tensor-codec.ts';
import type { ThreadPolicy } from './thread-policy.ts';

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
  /** How each session uses the cores. Default: one intra-op thread, no spinning, priority unchanged. */
  policy?: ThreadPolicy;
  /** Tried in order per thread. Default: ['cpu']. */
  executionProviders?: string[];
  warmupFeeds: Record<string, RawTensor>;
  /**
   * Batches a busy thread may hold behind the one it runs. With one, a thread starts its next
   * full batch the moment it finishes, instead of idling until the event loop has read its
   * result and handed it more work. Default: 1.
   */
  queuePerThread?: number;
  /** Called when a thread can take more work, so a batcher can hand it the next batch. */
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
  /** Batches sent to the thread and not answered yet, oldest (the running one) first. */
  inFlight: (Pending & { id: number })[];
}

/** Compiled (dist/*.js): threads load plain JS. From source: a JS entry registers tsx first. */
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const THREAD_MODULE = new URL(FROM_SOURCE ? './inference-thread.ts' : './inference-thread.js', import.meta.url).href;
const ENTRY = FROM_SOURCE ? new URL('./inference-thread-entry.mjs', import.meta.url) : new URL(THREAD_MODULE);

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
 * thread, or queues it behind a busy one (`queuePerThread`); callers (the batcher) check
 * `idleThreads` first and queue only full batches, so batches keep growing while every thread is
 * busy instead of queueing up small ones.
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
    return this.slots.filter((s) => s.inFlight.length === 0).length;
  }

  /** Busy threads that can still queue a batch behind the one they run. */
  get queueableThreads(): number {
    const limit = 1 + (this.options.queuePerThread ?? 1);
    return this.slots.filter((s) => s.inFlight.length > 0 && s.inFlight.length < limit).length;
  }

  get size(): number {
    return this.slots.length;
  }

  private spawn(): Promise<Slot> {
    const init: ThreadInit = {
      entry: THREAD_MODULE,
      modelPath: this.options.modelPath,
      policy: this.options.policy ?? { intraOpThreads: 1 },
      executionProviders: this.options.executionProviders ?? ['cpu'],
      warmupFeeds: this.options.warmupFeeds,
    };
    const worker = new Worker(ENTRY, { workerData: init });
    const slot: Slot = { worker, inFlight: [] };
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
            // A thread answers its batches in the order it was sent them.
            const done = slot.inFlight[0];
            if (!done || done.id !== message.id) return;
            slot.inFlight.shift();
            if (message.kind === 'result') done.resolve({ outputs: message.outputs, inferenceMs: message.inferenceMs });
            else done.reject(new RunFailedError(message.message));
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
        for (const pending of slot.inFlight.splice(0)) pending.reject(new ThreadCrashedError(`inference thread exited with code ${code}`));
        if (!ready) reject(new Error(`inference thread exited with code ${code} before it was ready`));
        if (ready && !this.closing) {
          this.options.onWarning?.(`inference thread exited with code ${code}; starting a new one`);
          this.spawn().catch((error: Error) => this.options.onWarning?.(`could not restart inference thread: ${error.message}`));
        }
      });
    });
  }

  /**
   * Runs one batch on an idle thread, or else queues it on the least busy thread with room.
   * Throws if there is neither: check `idleThreads` or `queueableThreads` first.
   */
  run(feeds: Record<string, RawTensor>): Promise<RunResult> {
    const limit = 1 + (this.options.queuePerThread ?? 1);
    let slot: Slot | undefined;
    for (const candidate of this.slots) if (candidate.inFlight.length < limit && (!slot || candidate.inFlight.length < slot.inFlight.length)) slot = candidate;
    if (!slot) return Promise.reject(new Error('InferencePool.run called with every thread busy and its queue full'));
    const target = slot;
    const id = this.nextId++;
    return new Promise<RunResult>((resolve, reject) => {
      target.inFlight.push({ id, resolve, reject });
      target.worker.postMessage({ id, feeds }, transferList(feeds));
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
    this.slots.length = 0;
  }
}

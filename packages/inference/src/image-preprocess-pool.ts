import { Worker } from 'node:worker_threads';
import { InferqError } from '@inferq/core/errors';
import type { ImageLimits, PreprocessedImage } from './image-preprocess.ts';
import type { ImageReply, ImageRequest } from './image-protocol.ts';
import type { ImagePreprocess, PagePreprocess } from './manifest.ts';
import type { PreprocessedPage } from './page-preprocess.ts';

interface Pending {
  resolve: (image: PreprocessedImage | PreprocessedPage) => void;
  reject: (error: Error) => void;
}

interface ImageThread {
  worker: Worker;
  pending: Map<number, Pending>;
}

/** Compiled (dist/*.js, where the .mjs entry is not copied): the thread loads plain JS. From source: a JS entry registers tsx first. */
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const THREAD_MODULE = new URL(FROM_SOURCE ? './image-thread.ts' : './image-thread.js', import.meta.url).href;
const ENTRY = FROM_SOURCE ? new URL('./inference-thread-entry.mjs', import.meta.url) : new URL(THREAD_MODULE);

/**
 * Worker threads that turn queued image bytes into model input tensors (image-preprocess.ts), so
 * that neither decoding, resizing nor normalising runs on the worker's event loop. Each thread
 * takes many images at once (libvips works on them in parallel); a batch's lines are spread over
 * the threads, the least busy first. Threads start when first needed; idle, they do not keep the
 * process alive.
 */
export class ImagePreprocessPool {
  private readonly threads: ImageThread[] = [];
  private nextId = 1;
  private closed = false;

  /** @param size threads, at least 1. */
  constructor(private readonly size: number) {}

  /** A text line (or any `image` preprocess), or a whole page for detection (`page`). */
  preprocess(image: string | Uint8Array, spec: PagePreprocess, limits: ImageLimits): Promise<PreprocessedPage>;
  preprocess(image: string | Uint8Array, spec: ImagePreprocess, limits: ImageLimits): Promise<PreprocessedImage>;
  preprocess(image: string | Uint8Array, spec: ImagePreprocess | PagePreprocess, limits: ImageLimits): Promise<PreprocessedImage | PreprocessedPage> {
    if (this.closed) return Promise.reject(new Error('the image pool is closed'));
    const thread = this.leastBusy();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      // Referenced only while it has work: an idle pool never keeps the process alive.
      if (thread.pending.size === 0) thread.worker.ref();
      thread.pending.set(id, { resolve, reject });
      thread.worker.postMessage({ id, image, spec, limits } satisfies ImageRequest);
    });
  }

  private leastBusy(): ImageThread {
    let best = this.threads[0];
    for (const thread of this.threads) if (best && thread.pending.size < best.pending.size) best = thread;
    if (best && (best.pending.size === 0 || this.threads.length >= this.size)) return best;
    return this.spawn();
  }

  private spawn(): ImageThread {
    const worker = new Worker(ENTRY, { workerData: { entry: THREAD_MODULE } });
    worker.unref();
    const thread: ImageThread = { worker, pending: new Map() };
    this.threads.push(thread);
    worker.on('message', (reply: ImageReply) => {
      const pending = thread.pending.get(reply.id);
      if (!pending) return;
      thread.pending.delete(reply.id);
      if (thread.pending.size === 0) worker.unref();
      if (reply.image) return pending.resolve(reply.image);
      const { code, message, details } = reply.failure;
      pending.reject(code ? new InferqError(code, message, details ? { details } : {}) : new Error(message));
    });
    const fail = (error: Error) => {
      const index = this.threads.indexOf(thread);
      if (index >= 0) this.threads.splice(index, 1);
      // The image may be fine: the thread died under it. INTERNAL, not the client's fault.
      for (const pending of thread.pending.values()) pending.reject(new InferqError('INTERNAL', `image thread failed: ${error.message}`));
      thread.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`exited with code ${code}`)));
    return thread;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.threads.splice(0).map((t) => t.worker.terminate()));
  }
}

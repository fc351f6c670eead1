import { decodeCompletion } from '@inferq/core/completion-message';
import type { Keyspace } from '@inferq/core/keyspace';
import type { Logger } from '@inferq/core/logger';
import type { Redis } from '@inferq/core/redis-connection';

/**
 * When a long-poll the API declined to hold should come back: soon enough to see a result in
 * good time, late enough that clients turned away do not poll a saturated API in a tight loop.
 */
export function declinedRetryAfterSeconds(waitSeconds: number): number {
  return Math.max(1, Math.min(5, Math.ceil(waitSeconds)));
}

/** A job or batch reported finished; a job's notice carries its finished record (JSON), as stored. */
export interface Notice {
  record?: string;
}

export interface Waiter {
  /** The notice when the id was reported finished; undefined on timeout, abort or release. */
  done: Promise<Notice | undefined>;
  cancel: () => void;
}

/**
 * Wakes long-polls when their job finishes. One subscriber connection per API process listens to
 * the channels workers publish finished job ids on (one sharded channel per model: on a cluster,
 * each model's notices stay on its own master), so a held GET costs no Redis traffic while it
 * waits. At most `maxHeld` are held at once: each holds a socket, a request and a timer (about
 * 10 KB of heap), and under overload they were what grew the process without bound.
 */
export class CompletionListener {
  private readonly waiters = new Map<string, Set<(notice: Notice | undefined) => void>>();
  private heldCount = 0;
  /** Models whose channel is subscribed (or being subscribed). */
  private readonly listening = new Map<string, Promise<void>>();
  private readonly subscribedModels = new Set<string>();

  private constructor(
    private readonly subscriber: Redis,
    private readonly keys: Keyspace,
    private readonly maxHeld: number,
  ) {}

  /** Starts listening for the given models' completions (more join with `listen`). */
  static async start(subscriber: Redis, keys: Keyspace, logger: Logger, models: readonly string[], maxHeld = Number.POSITIVE_INFINITY): Promise<CompletionListener> {
    const listener = new CompletionListener(subscriber, keys, maxHeld);
    subscriber.on('smessage', (_channel: string, message: string) => {
      // Most lines are for jobs another process holds: only a held id's record is handed on.
      for (const entry of decodeCompletion(message)) listener.notify(entry.id, entry.record);
    });
    subscriber.on('error', (error: Error) => logger.warn({ err: error }, 'completion subscriber error'));
    await Promise.all(models.map((model) => listener.listen(model)));
    return listener;
  }

  /**
   * Subscribes to a model's completions; undefined when it is subscribed already (the hot path
   * awaits nothing). Await it before registering a wait whose end could come at once.
   */
  listen(model: string): Promise<void> | undefined {
    if (this.subscribedModels.has(model)) return undefined;
    let pending = this.listening.get(model);
    if (!pending) {
      // One SSUBSCRIBE per model: on a cluster, channels of different slots cannot share one.
      pending = this.subscriber.ssubscribe(this.keys.jobsFinishedChannel(model)).then(
        () => void this.subscribedModels.add(model),
        (error: unknown) => {
          this.listening.delete(model);
          throw error;
        },
      );
      this.listening.set(model, pending);
    }
    return pending;
  }

  /**
   * Resolves with the notice when `jobId` is reported finished, undefined after `timeoutMs` or
   * when `signal` aborts. Register before reading the job's state, so a finish between the two is
   * not missed, and after `listen` to the job's model has resolved.
   * Undefined when `maxHeld` waits are already held: the caller answers at once instead.
   */
  waitFor(jobId: string, timeoutMs: number, signal?: AbortSignal): Waiter | undefined {
    if (this.heldCount >= this.maxHeld) return undefined;
    this.heldCount += 1;
    let cancel = () => {};
    let finished = false;
    const done = new Promise<Notice | undefined>((resolve) => {
      const set = this.waiters.get(jobId) ?? new Set();
      this.waiters.set(jobId, set);
      const finish = (notice: Notice | undefined) => {
        if (finished) return;
        finished = true;
        this.heldCount -= 1;
        clearTimeout(timer);
        signal?.removeEventListener('abort', aborted);
        set.delete(finish);
        if (set.size === 0 && this.waiters.get(jobId) === set) this.waiters.delete(jobId);
        resolve(notice);
      };
      const aborted = () => finish(undefined);
      const timer = setTimeout(() => finish(undefined), timeoutMs);
      signal?.addEventListener('abort', aborted, { once: true });
      set.add(finish);
      cancel = () => finish(undefined);
    });
    return { done, cancel };
  }

  private notify(id: string, record: string | undefined): void {
    const set = this.waiters.get(id);
    if (!set) return;
    const notice = record === undefined ? {} : { record };
    for (const finish of [...set]) finish(notice);
  }

  /** Long-polls held now. */
  get held(): number {
    return this.heldCount;
  }

  /** Ends every held long-poll now (each answers with the job's current state). */
  releaseAll(): void {
    for (const set of this.waiters.values()) for (const finish of [...set]) finish(undefined);
  }

  async close(): Promise<void> {
    this.releaseAll();
    await this.subscriber.quit().catch(() => this.subscriber.disconnect());
  }
}

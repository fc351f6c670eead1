import type { Keyspace } from '@inferq/core/keyspace';
import type { Logger } from '@inferq/core/logger';
import type { Redis } from '@inferq/core/redis-connection';

/**
 * Wakes long-polls when their job finishes. One subscriber connection per API process listens to
 * the channel workers publish finished job ids on, so a held GET costs no Redis traffic while it
 * waits, however many are held.
 */
export class CompletionListener {
  private readonly waiters = new Map<string, Set<(notified: boolean) => void>>();

  private constructor(private readonly subscriber: Redis) {}

  static async start(subscriber: Redis, keys: Keyspace, logger: Logger): Promise<CompletionListener> {
    const listener = new CompletionListener(subscriber);
    subscriber.on('message', (_channel: string, message: string) => {
      for (const id of message.split(' ')) listener.notify(id);
    });
    subscriber.on('error', (error: Error) => logger.warn({ err: error }, 'completion subscriber error'));
    await subscriber.subscribe(keys.jobsFinishedChannel());
    return listener;
  }

  /**
   * Resolves true when `jobId` is reported finished, false after `timeoutMs` or when `signal`
   * aborts. Register before reading the job's state, so a finish between the two is not missed.
   */
  waitFor(jobId: string, timeoutMs: number, signal?: AbortSignal): { done: Promise<boolean>; cancel: () => void } {
    let cancel = () => {};
    const done = new Promise<boolean>((resolve) => {
      const set = this.waiters.get(jobId) ?? new Set();
      this.waiters.set(jobId, set);
      const finish = (notified: boolean) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', aborted);
        set.delete(finish);
        if (set.size === 0 && this.waiters.get(jobId) === set) this.waiters.delete(jobId);
        resolve(notified);
      };
      const aborted = () => finish(false);
      const timer = setTimeout(() => finish(false), timeoutMs);
      signal?.addEventListener('abort', aborted, { once: true });
      set.add(finish);
      cancel = () => finish(false);
    });
    return { done, cancel };
  }

  private notify(jobId: string): void {
    const set = this.waiters.get(jobId);
    if (!set) return;
    for (const finish of [...set]) finish(true);
  }

  get waiting(): number {
    let n = 0;
    for (const set of this.waiters.values()) n += set.size;
    return n;
  }

  /** Ends every held long-poll now (each answers with the job's current state). */
  releaseAll(): void {
    for (const set of this.waiters.values()) for (const finish of [...set]) finish(false);
  }

  async close(): Promise<void> {
    this.releaseAll();
    await this.subscriber.quit().catch(() => this.subscriber.disconnect());
  }
}

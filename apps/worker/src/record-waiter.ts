import { decodeCompletion } from '@inferq/core/completion-message';
import type { FinishedJobRecord } from '@inferq/core/job-types';
import { type Keyspace, ownerModel } from '@inferq/core/keyspace';
import type { Logger } from '@inferq/core/logger';
import type { Redis } from '@inferq/core/redis-connection';
import { finishedRecordCodec } from '@inferq/jobs/job-codecs';
import type { JobStore } from '@inferq/jobs/job-store';

/** How often the records still awaited are read directly, in case their message was missed (a reconnect). */
const RECHECK_MS = 1000;

/**
 * Waits, inside a worker, for requests it queued itself (a pipeline's stages) to finish: one
 * subscriber on the completion channel hands each awaited record over as it is published, and
 * the records still missing are read from the store every second, so a message lost while the
 * subscriber reconnected delays an answer by a second instead of losing it.
 */
export class RecordWaiter {
  private readonly waiting = new Map<string, (record: FinishedJobRecord) => void>();
  /** Per model, its completion channel's subscription (sharded: one per model). */
  private readonly listening = new Map<string, Promise<unknown>>();

  private constructor(
    private readonly subscriber: Redis,
    private readonly keys: Keyspace,
    private readonly store: JobStore,
  ) {}

  static async start(subscriber: Redis, keys: Keyspace, store: JobStore, logger: Logger): Promise<RecordWaiter> {
    const waiter = new RecordWaiter(subscriber, keys, store);
    subscriber.on('smessage', (_channel: string, message: string) => {
      for (const entry of decodeCompletion(message)) {
        if (entry.record === undefined) continue;
        const resolve = waiter.waiting.get(entry.id);
        if (resolve) resolve(finishedRecordCodec.decode(entry.record));
      }
    });
    subscriber.on('error', (error: Error) => logger.warn({ err: error }, 'completion subscriber error'));
    return waiter;
  }

  private listen(model: string): Promise<unknown> {
    let subscribed = this.listening.get(model);
    if (!subscribed) {
      subscribed = this.subscriber.ssubscribe(this.keys.jobsFinishedChannel(model));
      subscribed.catch(() => this.listening.delete(model));
      this.listening.set(model, subscribed);
    }
    return subscribed;
  }

  /**
   * Starts waiting for these requests (await it before queueing them, so no record is missed: it
   * resolves once their models' completion channels are subscribed). `done(timeoutMs)` resolves
   * with each one's record, undefined for those not finished in time.
   */
  async expect(ids: readonly string[]): Promise<{ done(timeoutMs: number): Promise<(FinishedJobRecord | undefined)[]> }> {
    await Promise.all([...new Set(ids.map(ownerModel))].map((model) => this.listen(model)));
    const records = new Map<string, FinishedJobRecord>();
    let wake: (() => void) | undefined;
    for (const id of ids) {
      this.waiting.set(id, (record) => {
        records.set(id, record);
        this.waiting.delete(id);
        if (records.size === ids.length) wake?.();
      });
    }
    const release = () => {
      for (const id of ids) this.waiting.delete(id);
    };
    return {
      done: async (timeoutMs) => {
        const deadline = Date.now() + timeoutMs;
        try {
          while (records.size < ids.length && Date.now() < deadline) {
            await new Promise<void>((resolve) => {
              wake = resolve;
              setTimeout(resolve, Math.min(RECHECK_MS, Math.max(0, deadline - Date.now())));
            });
            wake = undefined;
            const missing = ids.filter((id) => !records.has(id));
            if (missing.length === 0) break;
            const read = await this.store.readFinishedMany(missing);
            missing.forEach((id, i) => {
              const record = read[i];
              if (record) records.set(id, record);
            });
          }
        } finally {
          release();
        }
        return ids.map((id) => records.get(id));
      },
    };
  }
}

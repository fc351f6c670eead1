import type { FinishedJobRecord, WebhookSubscription } from '@inferq/core/job-types';
import type { PredictionLogEntry } from '@inferq/core/prediction-log-script';
import type { JobStore } from '@inferq/jobs/job-store';

/** A record that was stored (one that found a record already there, e.g. a cancel's, is not). */
export interface WrittenRecord {
  record: FinishedJobRecord;
  ttlMs: number;
  webhook?: WebhookSubscription;
}

interface PendingWrite {
  record: FinishedJobRecord;
  ttlMs: number;
  webhook: WebhookSubscription | undefined;
  log: PredictionLogEntry | undefined;
  resolve: () => void;
  reject: (error: Error) => void;
}

/**
 * Writes finished requests. Every request of a batch finishes in the same tick, so writes issued
 * in one tick share one script call: one Redis round trip, and one message that carries the
 * records to the API processes holding long-polls. A request that already has a record (it was
 * canceled, or finished by an earlier attempt of a retried bundle) keeps it, and is not
 * announced again. The result key carries its TTL (PX), which Redis honours to the millisecond.
 */
export class ResultWriter {
  private pending: PendingWrite[] = [];
  private scheduled = false;

  constructor(
    private readonly store: JobStore,
    /**
     * Called once per flush with what was stored, before the writes resolve (so before BullMQ
     * hears the bundle is done). Webhooks are enqueued here. Its errors are the callback's to handle.
     */
    private readonly onWritten?: (written: WrittenRecord[]) => Promise<void>,
  ) {}

  /**
   * Stores a finished request for `ttlMs` unless it has a record already; `webhook` is announced
   * and `log` appended to the prediction log (in the same script call) only if it is stored.
   */
  write(record: FinishedJobRecord, ttlMs: number, webhook?: WebhookSubscription, log?: PredictionLogEntry): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ record, ttlMs, webhook, log, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    const writes = this.pending;
    this.pending = [];
    this.scheduled = false;
    try {
      const stored = await this.store.writeFinished(writes);
      if (this.onWritten) {
        const written = writes.filter((_, i) => stored[i]).map(({ record, ttlMs, webhook }) => ({ record, ttlMs, ...(webhook ? { webhook } : {}) }));
        if (written.length > 0) await this.onWritten(written);
      }
      for (const w of writes) w.resolve();
    } catch (error) {
      for (const w of writes) w.reject(error as Error);
    }
  }
}

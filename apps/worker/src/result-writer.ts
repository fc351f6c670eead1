import type { FinishedJobRecord, WebhookSubscription } from '@inferq/core/job-types';
import type { Keyspace } from '@inferq/core/keyspace';
import type { Redis } from '@inferq/core/redis-connection';

/** A record that was stored (an onlyIfAbsent write that found one already there is not). */
export interface WrittenRecord {
  record: FinishedJobRecord;
  ttlMs: number;
  webhook?: WebhookSubscription;
}

export interface WriteOptions {
  /** Never overwrite a record already there (a late failure report must not replace a result). Default: false. */
  onlyIfAbsent?: boolean;
  /** The job's webhook, announced once the record is stored. */
  webhook?: WebhookSubscription | undefined;
  /** The tenant backlog counter the job was counted in at submit, decremented now it is done. */
  backlogKey?: string | undefined;
}

interface PendingWrite extends WriteOptions {
  record: FinishedJobRecord;
  ttlMs: number;
  resolve: () => void;
  reject: (error: Error) => void;
}

/**
 * Writes finished jobs. Every job of a batch finishes in the same tick, so writes issued in one
 * tick share a single pipeline: one Redis round trip and one PUBLISH per batch, not per job.
 * The result key carries its TTL (PX), which Redis honours to the millisecond, independently of
 * BullMQ's lazy cleanup.
 */
export class ResultWriter {
  private pending: PendingWrite[] = [];
  private scheduled = false;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keyspace,
    /**
     * Called once per flush with what was stored, before the writes resolve (so before BullMQ
     * hears the jobs are done): a crash in between re-runs the job and so re-announces it.
     * Webhooks are enqueued here. Its errors are the callback's to handle.
     */
    private readonly onWritten?: (written: WrittenRecord[]) => Promise<void>,
  ) {}

  /** Stores a finished job for `ttlMs`. */
  write(record: FinishedJobRecord, ttlMs: number, options: WriteOptions = {}): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ record, ttlMs, ...options, resolve, reject });
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
    const pipeline = this.redis.pipeline();
    for (const w of writes) {
      const key = this.keys.result(w.record.job_id);
      const value = JSON.stringify(w.record);
      if (w.onlyIfAbsent) pipeline.set(key, value, 'PX', w.ttlMs, 'NX');
      else pipeline.set(key, value, 'PX', w.ttlMs);
    }
    pipeline.publish(this.keys.jobsFinishedChannel(), writes.map((w) => w.record.job_id).join(' '));
    // After the SETs, so results[i] still belongs to writes[i].
    for (const w of writes) if (w.backlogKey && !w.onlyIfAbsent) pipeline.decr(w.backlogKey);
    try {
      const results = (await pipeline.exec()) ?? [];
      if (this.onWritten) {
        // SET … NX answers null when the key was already there: that job was announced before.
        const written = writes.filter((w, i) => !results[i]?.[0] && results[i]?.[1] !== null);
        if (written.length > 0) await this.onWritten(written.map(({ record, ttlMs, webhook }) => ({ record, ttlMs, ...(webhook ? { webhook } : {}) })));
      }
      writes.forEach((w, i) => {
        const error = results[i]?.[0];
        if (error) w.reject(error);
        else w.resolve();
      });
    } catch (error) {
      for (const w of writes) w.reject(error as Error);
    }
  }
}

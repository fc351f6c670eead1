import { decodeCompletion } from '@inferq/core/completion-message';
import { type Keyspace, ownerModel } from '@inferq/core/keyspace';
import type { Logger } from '@inferq/core/logger';
import { decodeProgress } from '@inferq/core/progress-message';
import type { Redis } from '@inferq/core/redis-connection';

/** Something about an id a stream follows changed; a finished job's notice carries its record (JSON, as stored). */
export interface StateNotice {
  id: string;
  record?: string;
}

/** What a stream waits for: a notice, `idle` (nothing within the wait), or `closed` (released). */
export type NextNotice = StateNotice | 'idle' | 'closed';

/**
 * One held event stream's inbox. It keeps one notice at most: a stream re-reads the state it
 * reports, so notices that pile up while it writes say nothing more than the last one, except a
 * finished record, which is kept over a bare notice.
 */
export class EventSubscription {
  private pending: StateNotice | undefined;
  private wake: ((next: NextNotice) => void) | undefined;
  private closed = false;

  constructor(
    /** Resolves once the process listens on the channels: read the state after it, so no change falls between. */
    readonly ready: Promise<void>,
    private readonly onClose: () => void,
  ) {}

  push(notice: StateNotice): void {
    if (this.closed) return;
    const wake = this.wake;
    if (wake) {
      this.wake = undefined;
      wake(notice);
      return;
    }
    if (this.pending?.record === undefined || notice.record !== undefined) this.pending = notice;
  }

  /** The next notice, `idle` after `idleMs` without one, `closed` once closed. */
  next(idleMs: number): Promise<NextNotice> {
    if (this.closed) return Promise.resolve('closed');
    const pending = this.pending;
    if (pending) {
      this.pending = undefined;
      return Promise.resolve(pending);
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = undefined;
        resolve('idle');
      }, idleMs);
      this.wake = (next) => {
        clearTimeout(timer);
        resolve(next);
      };
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.pending = undefined;
    const wake = this.wake;
    this.wake = undefined;
    wake?.('closed');
    this.onClose();
  }
}

/**
 * Feeds the API's Server-Sent Event streams from Redis pub/sub, so a stream hears of a change
 * whichever process made it: finished jobs (with their records) and batch ends on the channel
 * long-polls use, running bundles and batch progress on the progress channel (both sharded, per
 * model). It has its own subscriber connection, subscribed to a model's channels only while it
 * holds a stream about that model: a process nobody streams from receives none of these messages. At most `maxHeld` streams are held at once.
 */
export class EventHub {
  private readonly followers = new Map<string, Set<EventSubscription>>();
  private heldCount = 0;
  /** Per model followed now: how many streams follow it, and its channels' subscription. */
  private readonly models = new Map<string, { holders: number; subscribed: Promise<void> }>();
  /** Channel → whether it carries completions (else progress), for every model's two channels subscribed. */
  private readonly finishedChannels = new Map<string, boolean>();

  constructor(
    private readonly subscriber: Redis,
    private readonly keys: Keyspace,
    logger: Logger,
    private readonly maxHeld: number,
  ) {
    subscriber.on('smessage', (channel: string, message: string) => {
      if (this.finishedChannels.get(channel)) {
        for (const entry of decodeCompletion(message)) this.notify(entry.id, entry.record);
      } else {
        for (const id of decodeProgress(message)) this.notify(id, undefined);
      }
    });
    subscriber.on('error', (error: Error) => logger.warn({ err: error.message }, 'event stream subscriber error'));
  }

  /** A subscription to notices about `ids`, or undefined when `maxHeld` streams are held already. */
  open(ids: readonly string[]): EventSubscription | undefined {
    if (this.heldCount >= this.maxHeld) return undefined;
    this.heldCount += 1;
    const models = [...new Set(ids.map((id) => ownerModel(id)))];
    const subscription = new EventSubscription(Promise.all(models.map((model) => this.follow(model))).then(() => undefined), () => {
      for (const id of ids) {
        const set = this.followers.get(id);
        set?.delete(subscription);
        if (set?.size === 0) this.followers.delete(id);
      }
      this.heldCount -= 1;
      for (const model of models) this.unfollow(model);
    });
    for (const id of ids) {
      const set = this.followers.get(id) ?? new Set();
      set.add(subscription);
      this.followers.set(id, set);
    }
    return subscription;
  }

  /** Subscribes to a model's two channels (one SSUBSCRIBE: they share the model's slot) while any stream follows it. */
  private follow(model: string): Promise<void> {
    const followed = this.models.get(model);
    if (followed) {
      followed.holders += 1;
      return followed.subscribed;
    }
    const finished = this.keys.jobsFinishedChannel(model);
    const progress = this.keys.progressChannel(model);
    this.finishedChannels.set(finished, true);
    this.finishedChannels.set(progress, false);
    const entry = {
      holders: 1,
      subscribed: this.subscriber.ssubscribe(finished, progress).then(
        () => undefined,
        (error: unknown) => {
          if (this.models.get(model) === entry) this.models.delete(model);
          throw error;
        },
      ),
    };
    this.models.set(model, entry);
    return entry.subscribed;
  }

  private unfollow(model: string): void {
    const followed = this.models.get(model);
    if (!followed) return;
    followed.holders -= 1;
    if (followed.holders > 0) return;
    // Commands on one connection run in order: a subscribe sent after this one still wins.
    this.models.delete(model);
    const finished = this.keys.jobsFinishedChannel(model);
    const progress = this.keys.progressChannel(model);
    this.finishedChannels.delete(finished);
    this.finishedChannels.delete(progress);
    void this.subscriber.sunsubscribe(finished, progress).catch(() => undefined);
  }

  private notify(id: string, record: string | undefined): void {
    const set = this.followers.get(id);
    if (!set) return;
    const notice = record === undefined ? { id } : { id, record };
    for (const subscription of set) subscription.push(notice);
  }

  /** Streams held now. */
  get held(): number {
    return this.heldCount;
  }

  /** Ends every held stream now (clients reconnect with Last-Event-ID, to another replica if this one stops). */
  releaseAll(): void {
    for (const set of [...this.followers.values()]) for (const subscription of [...set]) subscription.close();
  }

  async close(): Promise<void> {
    this.releaseAll();
    // Never connected (no stream was ever opened): nothing to say goodbye to.
    if (this.subscriber.status === 'wait') return this.subscriber.disconnect();
    await this.subscriber.quit().catch(() => this.subscriber.disconnect());
  }
}

import { decodeCompletion } from '@inferq/core/completion-message';
import type { Keyspace } from '@inferq/core/keyspace';
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
 * long-polls use, running bundles and batch progress on the progress channel. It has its own
 * subscriber connection, subscribed only while it holds a stream: a process nobody streams from
 * receives none of these messages. At most `maxHeld` streams are held at once.
 */
export class EventHub {
  private readonly followers = new Map<string, Set<EventSubscription>>();
  private heldCount = 0;
  private subscribed: Promise<void> | undefined;
  private readonly channels: [string, string];

  constructor(
    private readonly subscriber: Redis,
    keys: Keyspace,
    logger: Logger,
    private readonly maxHeld: number,
  ) {
    const finished = keys.jobsFinishedChannel();
    this.channels = [finished, keys.progressChannel()];
    subscriber.on('message', (channel: string, message: string) => {
      if (channel === finished) {
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
    this.subscribed ??= this.subscriber.subscribe(...this.channels).then(
      () => undefined,
      (error: unknown) => {
        this.subscribed = undefined;
        throw error;
      },
    );
    const subscription = new EventSubscription(this.subscribed, () => {
      for (const id of ids) {
        const set = this.followers.get(id);
        set?.delete(subscription);
        if (set?.size === 0) this.followers.delete(id);
      }
      this.heldCount -= 1;
      if (this.heldCount === 0) {
        // Commands on one connection run in order: a subscribe sent after this one still wins.
        this.subscribed = undefined;
        void this.subscriber.unsubscribe(...this.channels).catch(() => undefined);
      }
    });
    for (const id of ids) {
      const set = this.followers.get(id) ?? new Set();
      set.add(subscription);
      this.followers.set(id, set);
    }
    return subscription;
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

import { MAX_BUNDLE_REQUESTS, requestId } from '@inferq/core/job-id';

export interface BundleLimits {
  /** Most rows (first tensor dimension, summed) in one bundle; a request with more goes alone. */
  maxRows: number;
  /** Most payload bytes in one bundle; a larger request goes alone. */
  maxBytes: number;
}

/** A bundle ready to be queued: its id, creation time, and the requests that committed to it. */
export interface SealedBundle<T> {
  id: string;
  createdAt: number;
  items: T[];
}

/** Queues one key's bundles (one queue round trip for all of them); rejects to fail every request in them. */
export type SendBundles<T> = (key: string, bundles: SealedBundle<T>[]) => Promise<void>;

/**
 * A request's place in a bundle, held between reserve() and exactly one of commit() (the request
 * goes in) or withdraw() (it does not, e.g. an idempotent replay). A bundle is queued only once
 * each of its places is decided.
 */
export interface BundleSlot<T> {
  readonly jobId: string;
  /** The bundle's creation time, which is every one of its requests' `created_at`. */
  readonly createdAt: number;
  /** Resolves once the bundle is queued. */
  commit(item: T): Promise<void>;
  withdraw(): void;
}

interface Member<T> {
  state: 'undecided' | 'committed' | 'withdrawn';
  item?: T;
  resolve?: () => void;
  reject?: (error: Error) => void;
}

interface OpenBundle<T> {
  id: string;
  createdAt: number;
  members: Member<T>[];
  rows: number;
  bytes: number;
  undecided: number;
}

interface KeyState<T> {
  inFlight: boolean;
  scheduled: boolean;
  /** Bundles still taking requests (the last) or full; all are queued by the next send. */
  bundles: OpenBundle<T>[];
}

/**
 * Group commit for queue adds. Requests with the same key (model, version, priority, tenant) that
 * arrive while that key's previous add is still on its way to Redis join the next bundle, so under
 * load one queue job carries many requests and its per-job cost is shared, while at low load a
 * request is a bundle of one, sent at the end of the event-loop turn it arrived in (no timer, no
 * added latency). One add is in flight per key; different keys never wait for each other.
 */
export class BundleCommitter<T> {
  private readonly states = new Map<string, KeyState<T>>();

  constructor(
    private readonly send: SendBundles<T>,
    private readonly newBundleId: (key: string) => string,
  ) {}

  reserve(key: string, limits: BundleLimits, rows: number, bytes: number): BundleSlot<T> {
    let state = this.states.get(key);
    if (!state) {
      state = { inFlight: false, scheduled: false, bundles: [] };
      this.states.set(key, state);
    }
    let bundle = state.bundles.at(-1);
    const fits = bundle !== undefined && bundle.members.length < MAX_BUNDLE_REQUESTS && bundle.rows + rows <= limits.maxRows && bundle.bytes + bytes <= limits.maxBytes;
    if (!bundle || !fits) {
      bundle = { id: this.newBundleId(key), createdAt: Date.now(), members: [], rows: 0, bytes: 0, undecided: 0 };
      state.bundles.push(bundle);
    }
    const member: Member<T> = { state: 'undecided' };
    const index = bundle.members.length;
    bundle.members.push(member);
    bundle.rows += rows;
    bundle.bytes += bytes;
    bundle.undecided += 1;
    const owner = bundle;
    const decide = (to: 'committed' | 'withdrawn') => {
      if (member.state !== 'undecided') throw new Error(`bundle place already ${member.state}`);
      member.state = to;
      owner.undecided -= 1;
      this.schedule(key);
    };
    return {
      jobId: requestId(bundle.id, index),
      createdAt: bundle.createdAt,
      commit: (item: T) =>
        new Promise<void>((resolve, reject) => {
          member.item = item;
          member.resolve = resolve;
          member.reject = reject;
          decide('committed');
        }),
      withdraw: () => decide('withdrawn'),
    };
  }

  private schedule(key: string): void {
    const state = this.states.get(key);
    if (!state || state.inFlight || state.scheduled) return;
    state.scheduled = true;
    // The end of this event-loop turn: requests read from other sockets in the same turn join.
    setImmediate(() => {
      state.scheduled = false;
      this.flush(key);
    });
  }

  private flush(key: string): void {
    const state = this.states.get(key);
    if (!state || state.inFlight) return;
    // Bundles in order, up to the first with a place still undecided (an idempotency check in flight).
    const ready: OpenBundle<T>[] = [];
    while (state.bundles.length > 0 && (state.bundles[0] as OpenBundle<T>).undecided === 0) ready.push(state.bundles.shift() as OpenBundle<T>);
    const sealed = ready
      .map((b) => ({ bundle: b, committed: b.members.filter((m) => m.state === 'committed') }))
      .filter((b) => b.committed.length > 0);
    if (sealed.length === 0) {
      if (state.bundles.length === 0) this.states.delete(key);
      return;
    }
    state.inFlight = true;
    const members = sealed.flatMap((s) => s.committed);
    this.send(
      key,
      sealed.map(({ bundle, committed }) => ({ id: bundle.id, createdAt: bundle.createdAt, items: committed.map((m) => m.item as T) })),
    ).then(
      () => {
        for (const m of members) m.resolve?.();
      },
      (error: Error) => {
        for (const m of members) m.reject?.(error);
      },
    ).finally(() => {
      state.inFlight = false;
      // What arrived meanwhile goes now, as the next bundle.
      this.flush(key);
    });
  }

  /** Requests reserved or committed and not yet queued (for tests and metrics). */
  get pending(): number {
    let n = 0;
    for (const state of this.states.values()) for (const b of state.bundles) n += b.members.length;
    return n;
  }
}

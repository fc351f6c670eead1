import type { Keyspace } from '@inferq/core/keyspace';
import type { Logger } from '@inferq/core/logger';
import type { Redis } from '@inferq/core/redis-connection';
import type { PolicyStore } from '@inferq/routing/policy-store';
import type { StoredPolicy } from '@inferq/routing/routing-policy';

/**
 * Each API process's copy of the routing policies, so routing a job costs no Redis round trip.
 * A change is published by whoever makes it (PolicyStore.write) and every process re-reads that
 * model's policy; a periodic re-read of all of them is the safety net for a missed message
 * (a subscriber reconnecting, say), and the subscriber re-reads everything when it reconnects.
 */
export class PolicyCache {
  private readonly policies = new Map<string, StoredPolicy | undefined>();
  private timer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly store: PolicyStore,
    private readonly models: () => string[],
    private readonly logger: Logger,
  ) {}

  static async start(options: { store: PolicyStore; models: () => string[]; subscriber: Redis; keys: Keyspace; refreshMs: number; logger: Logger }): Promise<PolicyCache> {
    const cache = new PolicyCache(options.store, options.models, options.logger);
    await cache.refreshAll();
    const channel = options.keys.routingChannel();
    options.subscriber.on('message', (from: string, model: string) => {
      if (from === channel) void cache.refresh(model);
    });
    options.subscriber.on('ready', () => void cache.refreshAll());
    await options.subscriber.subscribe(channel);
    cache.timer = setInterval(() => void cache.refreshAll(), options.refreshMs);
    cache.timer.unref();
    return cache;
  }

  /** The stored policy, or undefined when the model routes by the default one. */
  get(model: string): StoredPolicy | undefined {
    return this.policies.get(model);
  }

  async refresh(model: string): Promise<void> {
    try {
      const policy = await this.store.read(model);
      const before = this.policies.get(model);
      this.policies.set(model, policy);
      if (before?.revision !== policy?.revision) this.logger.info({ model, revision: policy?.revision ?? 0, weights: policy?.policy.weights }, 'routing policy loaded');
    } catch (error) {
      this.logger.warn({ model, err: (error as Error).message }, 'routing policy not refreshed; the cached one stays in force');
    }
  }

  async refreshAll(): Promise<void> {
    try {
      for (const [model, policy] of await this.store.readAll(this.models())) this.policies.set(model, policy);
    } catch (error) {
      this.logger.warn({ err: (error as Error).message }, 'routing policies not refreshed; the cached ones stay in force');
    }
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
  }
}

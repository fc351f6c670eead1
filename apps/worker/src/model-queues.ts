import { Queue } from 'bullmq';
import type { QueuePayload } from '@inferq/core/job-types';
import type { Keyspace } from '@inferq/core/keyspace';
import type { Redis } from '@inferq/core/redis-connection';

/** Producer handles on models' queues, made on first use and kept (one per model). */
export class ModelQueues {
  private readonly queues = new Map<string, Queue<QueuePayload>>();

  constructor(
    private readonly producer: Redis,
    private readonly keys: Keyspace,
  ) {}

  get(model: string): Queue<QueuePayload> {
    let queue = this.queues.get(model);
    if (!queue) {
      queue = new Queue<QueuePayload>(this.keys.modelQueue(model), { connection: this.producer, prefix: this.keys.prefix });
      this.queues.set(model, queue);
    }
    return queue;
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
  }
}

import { freePort } from '../../scripts/lib/local-redis.ts';
import { spawnScript, type BenchScript } from './processes.ts';
import type { BenchStack } from './stack.ts';
import { servedVersion } from './workloads.ts';

/** Its own prefix and queue, so none of its keys can be mistaken for inferq's. */
const PREFIX = 'plain';
const QUEUE = 'fraud-risk';

export interface PlainStack {
  url: string;
  workerConcurrency: number;
  stop(): Promise<void>;
}

/**
 * Scenario 1's baseline as real processes on the bench's Redis: the plain Hono + BullMQ server
 * and its worker at `workerConcurrency`, on the model file inferq serves fraud-risk from by
 * default, with the intra-op threads inferq's worker gets.
 */
export async function startPlainStack(stack: BenchStack, workerConcurrency: number): Promise<PlainStack> {
  const served = servedVersion('fraud-risk');
  if (!served.features) throw new Error(`fraud-risk ${served.version} has no features block in its manifest`);
  const port = await freePort();
  const common = { redisUrl: stack.redis.url, prefix: PREFIX, queue: QUEUE };
  const processes: BenchScript[] = [];
  const stop = async () => void (await Promise.all(processes.map((p) => p.stop())));
  try {
    processes.push(
      spawnScript('children/plain-stack-worker.ts', [
        JSON.stringify({ ...common, modelPath: served.modelPath, intraOpThreads: stack.intraOpThreads, concurrency: workerConcurrency, input: served.features.input, featureNames: served.features.names }),
      ]),
      spawnScript('children/plain-stack-server.ts', [JSON.stringify({ ...common, port })]),
    );
    await Promise.all(processes.map((p) => p.waitForLine((l) => l.includes('"ready"'))));
  } catch (error) {
    await stop();
    throw error;
  }
  return { url: `http://127.0.0.1:${port}`, workerConcurrency, stop };
}

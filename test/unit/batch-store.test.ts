import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { BatchStore, type BatchEvent } from '../../packages/batch/src/batch-store.ts';
import { Keyspace } from '../../packages/core/src/keyspace.ts';
import { startLocalRedis, type LocalRedis } from '../../scripts/lib/local-redis.ts';

describe('BatchStore against real Redis', () => {
  let server: LocalRedis;
  let redis: Redis;
  before(async () => {
    server = await startLocalRedis();
    redis = new Redis(server.url);
  });
  after(async () => {
    redis.disconnect();
    await server.stop();
  });

  test('a progress event per tenth of the rows, one completion, and a retried chunk counted once', async () => {
    const events: [BatchEvent, number][] = [];
    const store = new BatchStore(redis, new Keyspace('t1'), async (_id, event, batch) => {
      events.push([event, Number(batch.succeeded ?? 0) + Number(batch.failed ?? 0)]);
    });
    await store.create('b1', { model: 'm', version: '1', tenant: 't', ttlMs: 60_000, createdAt: Date.now() });
    await store.closeIngest('b1', 100, 10);
    for (let chunk = 0; chunk < 10; chunk++) {
      assert.notEqual(await store.recordChunk('b1', chunk, `chunk ${chunk}\n`, 60_000, { succeeded: 9, failed: 1, canceled: 0 }), 'duplicate');
      if (chunk === 4) assert.equal(await store.recordChunk('b1', chunk, 'again\n', 60_000, { succeeded: 10, failed: 0, canceled: 0 }), 'duplicate');
    }
    assert.deepEqual(events, [...[10, 20, 30, 40, 50, 60, 70, 80, 90].map((n) => ['batch.progress', n]), ['batch.completed', 100]]);
    const batch = await store.read('b1');
    assert.equal(batch?.status, 'succeeded');
    assert.deepEqual([batch?.succeeded, batch?.failed], ['90', '10']);
    const lines: string[] = [];
    for await (const chunk of store.resultLines('b1')) lines.push(chunk.toString('utf8'));
    assert.equal(lines.join(''), Array.from({ length: 10 }, (_, i) => `chunk ${i}\n`).join(''), 'results in chunk order; the retry did not replace chunk 4');
    assert.ok((batch?.ttlRemainingMs ?? 0) > 59_000, 'the TTL counts from the end of the batch');
  });

  test('chunks that finish before the upload closes: the batch completes when it closes', async () => {
    const events: BatchEvent[] = [];
    const store = new BatchStore(redis, new Keyspace('t2'), async (_id, event) => void events.push(event));
    await store.create('b2', { model: 'm', version: '1', tenant: 't', ttlMs: 60_000, createdAt: Date.now() });
    assert.equal(await store.recordChunk('b2', 0, 'a\n', 60_000, { succeeded: 5, failed: 0, canceled: 0 }), 'recorded');
    assert.equal((await store.read('b2'))?.status, 'receiving');
    assert.equal(await store.closeIngest('b2', 5, 1), true);
    assert.deepEqual(events, ['batch.completed']);
  });
});

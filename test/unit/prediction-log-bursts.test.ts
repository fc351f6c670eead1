/**
 * Large script calls of the prediction log, with real Redis: a burst of finished requests that
 * end in the same tick, and a batch chunk of more rows than Lua unpacks at once. Both once failed
 * (a JavaScript stack overflow, Lua's "too many results to unpack"), which lost the burst's
 * records (its jobs were never answered) and would fail such a chunk on every attempt.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { ResultWriter } from '../../apps/worker/src/result-writer.ts';
import { BatchStore } from '../../packages/batch/src/batch-store.ts';
import { newJobId } from '../../packages/core/src/job-id.ts';
import type { FinishedJobRecord } from '../../packages/core/src/job-types.ts';
import { Keyspace } from '../../packages/core/src/keyspace.ts';
import type { PredictionLogEntry, PredictionLogLimits } from '../../packages/core/src/prediction-log-script.ts';
import { JobStore, MAX_WRITES_PER_CALL } from '../../packages/jobs/src/job-store.ts';
import { startLocalRedis, type LocalRedis } from '../../scripts/lib/local-redis.ts';

const HOUR = 3_600_000;
const LIMITS: PredictionLogLimits = { maxLen: 1_000_000, retentionMs: 24 * HOUR, driftReferenceSize: 100, driftWindow: 50 };

function entry(id: string, i: number): PredictionLogEntry {
  return { model: 'm', version: '1', id, tenant: 't', record: JSON.stringify({ id, tenant: 't', model: 'm', version: '1', status: 'succeeded' }), labelled: true, driftRow: JSON.stringify([i, -i]) };
}

/** The ids a model's log holds, oldest first. */
async function loggedIds(redis: Redis, keys: Keyspace): Promise<string[]> {
  const entries = (await redis.xrange(keys.predictions('m'), '-', '+')) as [string, string[]][];
  return entries.map(([, fields]) => (JSON.parse(fields[1] as string) as { id: string }).id);
}

describe('prediction log: large script calls (real Redis)', () => {
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

  test('thousands of requests finished in one tick: every record is stored and logged exactly once', async () => {
    const keys = new Keyspace('burst');
    const writer = new ResultWriter(new JobStore(redis as never, keys, LIMITS));
    const count = 20 * MAX_WRITES_PER_CALL + 7;
    const now = Date.now();
    const ids = Array.from({ length: count }, () => newJobId('m', 't'));
    // Every write is issued before the writer's next tick: one flush takes them all.
    const written = ids.map((id, i) => {
      const record: FinishedJobRecord = { job_id: id, status: 'succeeded', model: 'm', model_version: '1', created_at: new Date(now).toISOString(), started_at: null, finished_at: new Date(now).toISOString(), timings: null, batch_size: 1, result: { y: i }, tenant: 't', expires_at: new Date(now + HOUR).toISOString() };
      return writer.write(record, HOUR, undefined, entry(id, i));
    });
    await Promise.all(written);
    const stored = (await redis.mget(ids.map((id) => keys.result(id)))).filter((v) => v !== null);
    assert.equal(stored.length, count, 'every record stored');
    const logged = await loggedIds(redis, keys);
    assert.equal(logged.length, count, 'every prediction logged');
    assert.deepEqual(new Set(logged), new Set(ids), 'each exactly once');
    assert.equal(await redis.llen(keys.driftRecent('m', '1')), LIMITS.driftWindow);
    assert.equal(await redis.llen(keys.driftReference('m', '1')), LIMITS.driftReferenceSize);
  });

  test('a batch chunk of 12,000 rows (more than Lua unpacks at once) is recorded with every row logged, drift lists included', async () => {
    const keys = new Keyspace('chunk');
    const limits = { ...LIMITS, driftReferenceSize: 10_000, driftWindow: 9_000 };
    const store = new BatchStore(redis as never, keys, undefined, limits);
    await store.create('batch-1', { model: 'm', version: '1', tenant: 't', ttlMs: HOUR, createdAt: Date.now() });
    const rows = 12_000;
    const log = Array.from({ length: rows }, (_, r) => entry(`batch-1:${r}`, r));
    const lines = Array.from({ length: rows }, (_, r) => JSON.stringify({ row: r, result: { y: r } })).join('\n');
    assert.equal(await store.recordChunk('batch-1', 0, lines, HOUR, { succeeded: rows, failed: 0, canceled: 0 }, log), 'recorded');
    const logged = await loggedIds(redis, keys);
    assert.equal(logged.length, rows);
    assert.deepEqual(new Set(logged), new Set(log.map((e) => e.id)));
    assert.equal(await redis.llen(keys.driftReference('m', '1')), 10_000, 'the first rows, up to the reference size');
    assert.equal(await redis.lindex(keys.driftReference('m', '1'), 0), JSON.stringify([0, -0]));
    assert.equal(await redis.llen(keys.driftRecent('m', '1')), 9_000, 'the newest rows, up to the window');
    assert.equal(await redis.lindex(keys.driftRecent('m', '1'), 0), JSON.stringify([rows - 1, -(rows - 1)]), 'newest first');
    assert.equal(await store.recordChunk('batch-1', 0, lines, HOUR, { succeeded: rows, failed: 0, canceled: 0 }, log), 'duplicate', 'a retried chunk logs nothing again');
    assert.equal((await loggedIds(redis, keys)).length, rows);
  });
});

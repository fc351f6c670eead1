import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { PredictionFileSink } from '../../apps/api/src/services/prediction-file-sink.ts';
import { Keyspace } from '../../packages/core/src/keyspace.ts';
import { createLogger } from '../../packages/core/src/logger.ts';
import { PredictionLogWriter } from '../../packages/core/src/prediction-log-script.ts';
import { newJobId } from '../../packages/core/src/job-id.ts';
import type { FinishedJobRecord } from '../../packages/core/src/job-types.ts';
import { JobStore } from '../../packages/jobs/src/job-store.ts';
import { jobPredictionEntry } from '../../packages/jobs/src/prediction-entry.ts';
import { startLocalRedis, type LocalRedis } from '../../scripts/lib/local-redis.ts';

const HOUR = 3_600_000;

describe('prediction log files (real Redis)', () => {
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

  test('one file per logged hour, a new part past the size limit, resumed from its cursor', async () => {
    const keys = new Keyspace('sink');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'inferq-sink-'));
    const logger = createLogger({ level: 'silent' });
    const stream = keys.predictions('scorer');
    // Two hours of predictions, with explicit stream ids in 2026-12-01 08:xx and 09:xx UTC.
    const base = Date.UTC(2026, 11, 1, 8, 30);
    for (let i = 0; i < 30; i++) await redis.xadd(stream, `${base + Math.floor(i / 15) * HOUR + i}-0`, 'r', JSON.stringify({ id: `p${i}`, tenant: 't', model: 'scorer', version: '1', status: 'succeeded' }));
    const sink = new PredictionFileSink({ redis: redis as never, keys, models: () => ['scorer'], dir, maxFileBytes: 800, logger });
    assert.equal(await sink.drain(), 30);
    const files = readdirSync(path.join(dir, 'scorer')).filter((f) => f.endsWith('.ndjson')).sort();
    assert.deepEqual(files.filter((f) => f.startsWith('predictions-2026120108')).length > 1, true, `parts: ${files.join(', ')}`);
    assert.ok(files.some((f) => f.startsWith('predictions-2026120109')));
    const lines = files.flatMap((f) => readFileSync(path.join(dir, 'scorer', f), 'utf8').trim().split('\n'));
    const ids = lines.map((l) => (JSON.parse(l) as { id: string }).id).sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)));
    assert.deepEqual(ids, Array.from({ length: 30 }, (_, i) => `p${i}`), 'every entry exactly once');
    for (const f of files) assert.ok(readFileSync(path.join(dir, 'scorer', f)).byteLength <= 800 + 200, `${f} is near the limit`);
    const first = JSON.parse(lines[0] as string) as { logged_at: string; cursor: string };
    assert.match(first.logged_at, /^2026-12-01T08:30/);

    // New predictions, through the real log script; a fresh sink (a restart) resumes from the cursor.
    const writer = new PredictionLogWriter(redis as never, keys, { maxLen: 1000, retentionMs: 1000 * HOUR * 24 * 365, driftReferenceSize: 0, driftWindow: 10 });
    const id = newJobId('scorer', 't');
    await writer.write([{ model: 'scorer', version: '1', id, tenant: 't', record: JSON.stringify({ id, tenant: 't', model: 'scorer', version: '1', status: 'succeeded' }), labelled: true }]);
    const restarted = new PredictionFileSink({ redis: redis as never, keys, models: () => ['scorer'], dir, maxFileBytes: 800, logger });
    assert.equal(await restarted.drain(), 1, 'only the new one');
    assert.equal(await restarted.drain(), 0);
    const now = readdirSync(path.join(dir, 'scorer')).filter((f) => f.endsWith('.ndjson'));
    assert.equal(now.length, files.length + 1, 'the current hour has its own file');
  });

  test('the log is bounded by age (MINID) and by length (MAXLEN), trimmed as it is written', async () => {
    const keys = new Keyspace('bounds');
    const stream = keys.predictions('m');
    const entry = () => {
      const id = newJobId('m', 't');
      return { model: 'm', version: '1', id, tenant: 't', record: JSON.stringify({ id }), labelled: true };
    };
    // 500 entries two days old; a retention of one day drops (whole macro nodes of) them on the next write.
    const old = Date.now() - 48 * HOUR;
    for (let i = 0; i < 500; i++) await redis.xadd(stream, `${old + i}-0`, 'r', '{}');
    const aged = new PredictionLogWriter(redis as never, keys, { maxLen: 1_000_000, retentionMs: 24 * HOUR, driftReferenceSize: 0, driftWindow: 10 });
    await aged.write([entry()]);
    const [first] = (await redis.xrange(stream, '-', '+', 'COUNT', 1)) as [string, string[]][];
    assert.ok((await redis.xlen(stream)) < 200, `${await redis.xlen(stream)} left`);
    assert.ok(Number(first?.[0].split('-')[0]) > old + 300, 'the oldest went first');
    // Length: a cap of 100 keeps about 100 (never fewer), however many are written.
    const capped = new PredictionLogWriter(redis as never, keys, { maxLen: 100, retentionMs: 24 * HOUR, driftReferenceSize: 0, driftWindow: 10 });
    for (let i = 0; i < 10; i++) await capped.write(Array.from({ length: 50 }, entry));
    const length = await redis.xlen(stream);
    assert.ok(length >= 100 && length < 300, `${length} entries for a cap of 100`);
  });

  test('a record stored again after its result expired (a retried bundle re-ran it) is logged once', async () => {
    const keys = new Keyspace('once');
    const store = new JobStore(redis as never, keys, { maxLen: 1000, retentionMs: 24 * HOUR, driftReferenceSize: 10, driftWindow: 10 });
    const id = newJobId('m', 't');
    const now = Date.now();
    const record: FinishedJobRecord = { job_id: id, status: 'succeeded', model: 'm', model_version: '1', created_at: new Date(now).toISOString(), started_at: null, finished_at: new Date(now).toISOString(), timings: null, batch_size: 1, result: { y: 1 }, tenant: 't', expires_at: new Date(now + 50).toISOString() };
    const log = jobPredictionEntry(record, { inputs: [], created_at: now }, undefined);
    assert.deepEqual(await store.writeFinished([{ record, ttlMs: 50, log }]), [true]);
    assert.deepEqual(await store.writeFinished([{ record, ttlMs: 50, log }]), [false], 'the record is there: nothing stored, nothing logged');
    await new Promise((r) => setTimeout(r, 120));
    assert.deepEqual(await store.writeFinished([{ record, ttlMs: 50, log }]), [true], 'expired: stored again');
    assert.equal(await redis.xlen(keys.predictions('m')), 1, 'logged once');
  });
});

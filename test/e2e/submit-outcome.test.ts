import assert from 'node:assert/strict';
import net from 'node:net';
import { after, afterEach, describe, test } from 'node:test';
import { freePort, startLocalRedis, type LocalRedis } from '../../scripts/lib/local-redis.ts';
import { request, SAFE_TRANSACTION } from '../support/http.ts';
import { startService, stopAll, testModelDir } from '../support/services.ts';

const job = { model: 'fraud-risk', features: SAFE_TRANSACTION };

/**
 * A TCP proxy to Redis that, once, freezes the connection carrying a bundle add: with 'reply-lost'
 * the add reaches Redis and runs but its reply never comes back; with 'never-sent' the add does
 * not reach Redis then (ioredis may send it again once it has reconnected). The frozen connection
 * is closed after `holdMs`, so the API reconnects.
 */
async function freezingProxy(redisPort: number, mode: 'reply-lost' | 'never-sent', holdMs: number): Promise<{ port: number; close(): void }> {
  let frozen = false;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(redisPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    let freeze = false;
    client.on('data', (chunk) => {
      if (!frozen && chunk.includes('"kind":"bundle"')) {
        frozen = true;
        freeze = true;
        if (mode === 'reply-lost') upstream.write(chunk);
        setTimeout(() => {
          client.destroy();
          upstream.destroy();
        }, holdMs);
        return;
      }
      if (!freeze) upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      if (!freeze) client.write(chunk);
    });
    for (const s of [client, upstream]) {
      s.on('error', () => undefined);
      s.on('close', () => {
        client.destroy();
        upstream.destroy();
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    close() {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

describe('a submit whose outcome the API cannot know', () => {
  let redis: LocalRedis | undefined;
  let proxy: { close(): void } | undefined;
  afterEach(async () => {
    await stopAll();
    proxy?.close();
    await redis?.stop();
  });
  after(stopAll);

  for (const mode of ['reply-lost', 'never-sent'] as const) {
    test(`${mode}: 503 SUBMIT_OUTCOME_UNKNOWN with the job id; a retry with the same Idempotency-Key makes exactly one job`, async () => {
      redis = await startLocalRedis();
      const frozen = await freezingProxy(redis.port, mode, 6000);
      proxy = frozen;
      const port = await freePort();
      await startService('api', { env: { REDIS_URL: `redis://127.0.0.1:${frozen.port}`, PORT: String(port), INFERQ_MODEL_DIR: testModelDir(), INFERQ_MODELS: 'fraud-risk' } });
      const base = `http://127.0.0.1:${port}`;
      const first = await request(base, 'POST', '/v1/jobs', job, { 'idempotency-key': `k-${mode}` });
      assert.equal(first.status, 503, JSON.stringify(first.body));
      assert.equal(first.body.error.code, 'SUBMIT_OUTCOME_UNKNOWN');
      const jobId = first.body.error.details.job_id as string;
      assert.match(jobId, /^fraud-risk\./);
      assert.ok(Number(first.headers.get('retry-after')) > 0);
      let retried;
      // 503 while Redis is unreachable, and SUBMIT_OUTCOME_UNKNOWN again while the add may still arrive.
      for (let i = 0; i < 120; i++) {
        retried = await request(base, 'POST', '/v1/jobs', job, { 'idempotency-key': `k-${mode}` });
        if (retried.status !== 503) break;
        assert.ok(['REDIS_UNAVAILABLE', 'SUBMIT_OUTCOME_UNKNOWN'].includes(retried.body.error.code), JSON.stringify(retried.body));
        await new Promise((r) => setTimeout(r, 500));
      }
      assert.equal(retried?.status, 202, JSON.stringify(retried?.body));
      // Exactly one job: the first (the retry returns it, and it is stored, if not yet then once
      // ioredis has sent the add again), or, if it never arrived, the retry's.
      let stored = await request(base, 'GET', `/v1/jobs/${jobId}`);
      if (retried?.body.job_id === jobId) {
        assert.equal(retried?.headers.get('idempotent-replayed'), 'true');
        for (let i = 0; i < 80 && stored.status !== 200; i++) {
          await new Promise((r) => setTimeout(r, 500));
          stored = await request(base, 'GET', `/v1/jobs/${jobId}`);
        }
        assert.equal(stored.status, 200);
      } else {
        assert.equal(stored.status, 404);
        assert.equal(retried?.headers.get('idempotent-replayed'), null);
        assert.equal((await request(base, 'GET', `/v1/jobs/${retried?.body.job_id}`)).status, 200);
      }
      // The add ran in Redis although its reply was lost: this is the case a plain 503 would get wrong.
      if (mode === 'reply-lost') assert.equal(stored.status, 200);
    });
  }
});

import assert from 'node:assert/strict';
import net from 'node:net';
import { after, afterEach, describe, test } from 'node:test';
import { freePort, startLocalRedis, type LocalRedis } from '../../scripts/lib/local-redis.ts';
import { request, SAFE_TRANSACTION } from '../support/http.ts';
import { sample } from '../support/prometheus.ts';
import { startService, stopAll, testModelDir } from '../support/services.ts';

const job = { model: 'fraud-risk', features: SAFE_TRANSACTION };

/** A socket that sends a submit's headers and half its body, then holds: the request stays in flight. */
async function slowSubmit(port: number): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  const body = JSON.stringify(job);
  socket.write(`POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`);
  return socket;
}

describe('overload: the API sheds what it cannot take and stays answerable', () => {
  let redis: LocalRedis | undefined;
  afterEach(async () => {
    await stopAll();
    await redis?.stop();
    redis = undefined;
  });
  after(stopAll);

  test('past INFERQ_MAX_IN_FLIGHT_REQUESTS a request gets 503 OVERLOADED at once; probes and metrics still answer', async () => {
    redis = await startLocalRedis();
    const port = await freePort();
    await startService('api', { env: { REDIS_URL: redis.url, PORT: String(port), INFERQ_MODEL_DIR: testModelDir(), INFERQ_MODELS: 'fraud-risk', INFERQ_MAX_IN_FLIGHT_REQUESTS: '2' } });
    const base = `http://127.0.0.1:${port}`;
    const held = [await slowSubmit(port), await slowSubmit(port)];
    // The held requests are in flight once the server has their headers.
    let refused;
    for (let i = 0; i < 100; i++) {
      refused = await request(base, 'POST', '/v1/jobs', job);
      if (refused.status === 503) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(refused?.status, 503, JSON.stringify(refused?.body));
    assert.equal(refused?.body.error.code, 'OVERLOADED');
    assert.equal(refused?.headers.get('retry-after'), '1');
    assert.equal((await request(base, 'GET', '/healthz')).status, 200);
    assert.equal((await request(base, 'GET', '/readyz')).status, 200);
    const metrics = await fetch(`${base}/metrics`).then((r) => r.text());
    assert.ok((sample(metrics, 'inferq_http_requests_shed_total') ?? 0) >= 1);
    for (const socket of held) socket.destroy();
    let accepted;
    for (let i = 0; i < 100; i++) {
      accepted = await request(base, 'POST', '/v1/jobs', job);
      if (accepted.status === 202) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(accepted?.status, 202);
  });

  test('a client that never finishes its headers is disconnected', async () => {
    redis = await startLocalRedis();
    const port = await freePort();
    await startService('api', { env: { REDIS_URL: redis.url, PORT: String(port), INFERQ_MODEL_DIR: testModelDir(), INFERQ_MODELS: 'fraud-risk' } });
    const socket = net.connect(port, '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    socket.write('POST /v1/jobs HTTP/1.1\r\nHost: x\r\n');
    socket.on('data', () => undefined);
    socket.on('error', () => undefined);
    // Bounded only by the test's own timeout: the server's header timeout closes it long before.
    await new Promise<void>((resolve) => socket.once('close', () => resolve()));
    assert.ok(socket.destroyed);
  });

  test('concurrent submits do not overshoot the queue-depth limit by a cache window', async () => {
    redis = await startLocalRedis();
    const port = await freePort();
    await startService('api', { env: { REDIS_URL: redis.url, PORT: String(port), INFERQ_MODEL_DIR: testModelDir(), INFERQ_MODELS: 'fraud-risk', INFERQ_MAX_QUEUE_DEPTH: '100' } });
    const base = `http://127.0.0.1:${port}`;
    const replies = await Promise.all(Array.from({ length: 400 }, () => request(base, 'POST', '/v1/jobs', job)));
    const accepted = replies.filter((r) => r.status === 202).length;
    const full = replies.filter((r) => r.status === 429 && r.body.error.code === 'QUEUE_FULL').length;
    assert.equal(accepted + full, replies.length);
    assert.ok(accepted <= 100, `accepted ${accepted} against a limit of 100`);
    assert.ok(accepted >= 90, `accepted ${accepted}`);
  });
});

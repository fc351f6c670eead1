import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { freePort } from '../../scripts/lib/local-redis.ts';
import { InferqConflictError, type InferqError, InferqNotFoundError, InferqRateLimitError, InferqTimeoutError, InferqUnavailableError, InferqValidationError } from '../../packages/client/src/client-errors.ts';
import { InferqClient } from '../../packages/client/src/inferq-client.ts';
import { answeredEarly, nextPollDelayMs } from '../../packages/client/src/long-poll.ts';
import { parseRetryAfter } from '../../packages/client/src/retry-after.ts';
import { retryDelayMs } from '../../packages/client/src/retry-delay.ts';
import { json, startScriptedServer, type Script, type ScriptedServer } from '../support/scripted-server.ts';

const queued = { job_id: 'fraud-risk.01J', status: 'queued', model: 'fraud-risk', model_version: '2', routed_by: 'weight', created_at: '2026-01-01T00:00:00Z', poll_url: '/v1/jobs/fraud-risk.01J' };
const finished = { ...queued, status: 'succeeded', result: { label: 'legit' } };
const unavailable = { error: { code: 'REDIS_UNAVAILABLE', message: 'the job store is unreachable' } };
const FAST = { retryBaseDelayMs: 1 };

describe('client retries, errors and timeouts (against a scripted HTTP server)', () => {
  const servers: ScriptedServer[] = [];
  after(() => Promise.all(servers.map((s) => s.close())));
  const start = async (script: Script) => {
    const server = await startScriptedServer(script);
    servers.push(server);
    return server;
  };

  test('a submit is retried after a 503 with the same generated Idempotency-Key; the key is fresh per call', async () => {
    const server = await start((_req, res, index) => (index === 0 ? json(res, 503, unavailable, { 'retry-after': '0' }) : json(res, 202, queued)));
    const client = new InferqClient({ baseUrl: server.baseUrl, ...FAST });
    assert.deepEqual(await client.submit({ model: 'fraud-risk', features: { amount: 1 } }), queued);
    const [first, second] = server.requests;
    assert.match(String(first?.headers['idempotency-key']), /^[0-9a-f-]{36}$/);
    assert.equal(second?.headers['idempotency-key'], first?.headers['idempotency-key']);
    assert.deepEqual(JSON.parse(second?.body ?? ''), { model: 'fraud-risk', features: { amount: 1 } });
    await client.submit({ model: 'fraud-risk', features: { amount: 1 } }, { idempotencyKey: 'order-42' });
    assert.equal(server.requests[2]?.headers['idempotency-key'], 'order-42');
  });

  test('a bulk call (no idempotency key) is not sent twice after a 503; the error carries code, status, request id', async () => {
    const server = await start((_req, res) => json(res, 503, unavailable, { 'x-request-id': 'req-7' }));
    const client = new InferqClient({ baseUrl: server.baseUrl, ...FAST });
    await assert.rejects(client.bulk([{ model: 'fraud-risk', features: {} }]), (error: unknown) => {
      assert.ok(error instanceof InferqUnavailableError);
      assert.deepEqual([error.code, error.status, error.requestId], ['REDIS_UNAVAILABLE', 503, 'req-7']);
      return true;
    });
    assert.equal(server.requests.length, 1);
  });

  test('a 429 is retried for any call; after maxRetries it is InferqRateLimitError with retryAfterSeconds', async () => {
    const server = await start((_req, res) => json(res, 429, { error: { code: 'RATE_LIMITED', message: 'over the rate' } }, { 'retry-after': '0' }));
    const client = new InferqClient({ baseUrl: server.baseUrl, maxRetries: 2, ...FAST });
    await assert.rejects(client.bulk([]), (error: unknown) => error instanceof InferqRateLimitError && error.code === 'RATE_LIMITED' && error.retryAfterSeconds === 0);
    assert.equal(server.requests.length, 3);
  });

  test('a Retry-After longer than maxRetryDelayMs is left to the caller: thrown at once', async () => {
    const server = await start((_req, res) => json(res, 429, { error: { code: 'QUEUE_FULL', message: 'full' } }, { 'retry-after': '120' }));
    const client = new InferqClient({ baseUrl: server.baseUrl, maxRetryDelayMs: 10_000 });
    await assert.rejects(client.get('fraud-risk.01J'), (error: unknown) => error instanceof InferqRateLimitError && error.retryAfterSeconds === 120);
    assert.equal(server.requests.length, 1);
  });

  test('4xx answers are typed by family and never retried', async () => {
    const answers: [number, string, new (...args: never[]) => InferqError][] = [
      [422, 'FEATURE_MISSING', InferqValidationError],
      [404, 'JOB_NOT_FOUND', InferqNotFoundError],
      [409, 'JOB_NOT_CANCELABLE', InferqConflictError],
    ];
    const server = await start((_req, res, index) => {
      const [status, code] = answers[index] ?? [500, 'INTERNAL'];
      json(res, status, { error: { code, message: 'refused', details: { row: 3 } } });
    });
    const client = new InferqClient({ baseUrl: server.baseUrl, ...FAST });
    for (const [status, code, ErrorClass] of answers) {
      await assert.rejects(client.cancel('fraud-risk.01J'), (error: unknown) => {
        assert.ok(error instanceof ErrorClass, `${status} is ${ErrorClass.name}`);
        assert.deepEqual([error.code, error.status, error.details], [code, status, { row: 3 }]);
        assert.match(error.message, new RegExp(`^${code}: refused$`));
        return true;
      });
    }
    assert.equal(server.requests.length, answers.length);
  });

  test('no server: CONNECTION_FAILED after the retries of an idempotent call; no answer in time: RESPONSE_TIMEOUT', async () => {
    const client = new InferqClient({ baseUrl: `http://127.0.0.1:${await freePort()}`, maxRetries: 1, ...FAST });
    await assert.rejects(client.get('x'), (error: unknown) => error instanceof InferqUnavailableError && error.code === 'CONNECTION_FAILED' && error.status === undefined && /cannot reach inferq/.test(error.message));
    const silent = await start(() => undefined);
    const impatient = new InferqClient({ baseUrl: silent.baseUrl, timeoutMs: 100, maxRetries: 0 });
    await assert.rejects(impatient.get('x'), (error: unknown) => error instanceof InferqUnavailableError && error.code === 'RESPONSE_TIMEOUT');
  });

  test('baseUrl keeps its path; the API key is sent as a Bearer token', async () => {
    const server = await start((_req, res) => json(res, 200, finished));
    await new InferqClient({ baseUrl: `${server.baseUrl}/inferq`, apiKey: 'k_test' }).get('fraud-risk.01J');
    assert.equal(server.requests[0]?.url, '/inferq/v1/jobs/fraud-risk.01J');
    assert.equal(server.requests[0]?.headers.authorization, 'Bearer k_test');
    assert.throws(() => new InferqClient({ baseUrl: 'ftp://x' }), TypeError);
    assert.throws(() => new InferqClient({ timeoutMs: -1 }), RangeError);
  });

  test('wait: when the API declines to hold the long-poll it is polled again after Retry-After, until the job ends', async () => {
    const server = await start((_req, res, index) => (index < 2 ? json(res, 200, { ...queued, finished_at: null }, { 'retry-after': '0' }) : json(res, 200, finished)));
    const seen: string[] = [];
    const job = await new InferqClient({ baseUrl: server.baseUrl, ...FAST }).wait('fraud-risk.01J', { pollSeconds: 7, onUpdate: (v) => seen.push(v.status) });
    assert.equal(job.status, 'succeeded');
    assert.deepEqual(seen, ['queued', 'queued', 'succeeded']);
    assert.ok(server.requests.every((r) => /\?wait=7$/.test(r.url)), server.requests.map((r) => r.url).join(' '));
  });

  test('wait: past timeoutMs, InferqTimeoutError with the last state seen', async () => {
    const server = await start((_req, res) => json(res, 200, { ...queued, finished_at: null }, { 'retry-after': '0' }));
    await assert.rejects(new InferqClient({ baseUrl: server.baseUrl, ...FAST }).wait('fraud-risk.01J', { timeoutMs: 300 }), (error: unknown) => {
      assert.ok(error instanceof InferqTimeoutError);
      assert.equal(error.code, 'WAIT_TIMEOUT');
      assert.equal((error.lastView as { status: string }).status, 'queued');
      return true;
    });
  });

  test('run: Prefer: wait on the submit; a 202 falls back to long-polling the job', async () => {
    const server = await start((_req, res, index) => (index === 0 ? json(res, 202, queued) : json(res, 200, finished)));
    const job = await new InferqClient({ baseUrl: server.baseUrl }).run({ model: 'fraud-risk', features: {} }, { holdSeconds: 3 });
    assert.equal(job.status, 'succeeded');
    assert.deepEqual(server.requests.map((r) => [r.method, r.url, r.headers.prefer]), [
      ['POST', '/v1/jobs', 'wait=3'],
      ['GET', '/v1/jobs/fraud-risk.01J?wait=20', undefined],
    ]);
  });
});

describe('retry and poll delays', () => {
  const policy = { baseDelayMs: 100, maxDelayMs: 5000 };
  test('Retry-After (seconds or HTTP date) is a floor; backoff grows while the API keeps declining, up to its cap', () => {
    assert.equal(parseRetryAfter('5'), 5);
    assert.equal(parseRetryAfter(new Date(Date.parse('2030-01-01T00:00:10Z')).toUTCString(), Date.parse('2030-01-01T00:00:00Z')), 10);
    assert.equal(parseRetryAfter('soon'), undefined);
    assert.equal(nextPollDelayMs(0, 5, policy), 0, 'a long-poll held to its end is followed at once');
    assert.ok(nextPollDelayMs(1, 5, policy) >= 5000);
    // Jitter spans half to all of each doubling step.
    assert.deepEqual([1, 2, 3, 10].map((n) => retryDelayMs(n, undefined, policy, () => 1)), [100, 200, 400, 5000]);
    assert.deepEqual([1, 2, 3, 10].map((n) => retryDelayMs(n, undefined, policy, () => 0)), [50, 100, 200, 2500]);
    assert.equal(retryDelayMs(1, 30, policy, () => 1), 30_000, 'Retry-After wins over a shorter backoff');
  });
  test('an unfinished answer well before the wait asked for is an early one', () => {
    assert.equal(answeredEarly(20, 10), true);
    assert.equal(answeredEarly(9_000, 10), false);
    assert.equal(answeredEarly(0, 0), false, 'a plain GET (wait 0) is never early');
  });
});

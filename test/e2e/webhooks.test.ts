import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { after, before, describe, test } from 'node:test';
import type { Redis } from '../../packages/core/src/redis-connection.ts';
import { Webhook } from 'standardwebhooks';
import { lookupInput, request, RISKY_TRANSACTION, SAFE_TRANSACTION, wideMlpInput } from '../support/http.ts';
import { startStack, type Stack } from '../support/services.ts';
import { WebhookReceiver, type ReceivedWebhook } from '../support/webhook-receiver.ts';

// Two secrets: a rotation in progress. Receivers holding either must verify every delivery.
const NEW_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const OLD_SECRET = 'whsec_b2xkLXNlY3JldC1zdGlsbC1pbi11c2Ux';

const headerRecord = (headers: IncomingHttpHeaders): Record<string, string> =>
  Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : (v ?? '')]));

/** Verifies with the stock standardwebhooks library, as a receiver would; returns the payload. */
function verified(hit: ReceivedWebhook): { type: string; timestamp: string; data: any } {
  const headers = headerRecord(hit.headers);
  new Webhook(OLD_SECRET).verify(hit.body, headers);
  return new Webhook(NEW_SECRET).verify(hit.body, headers) as { type: string; timestamp: string; data: any };
}

describe('webhooks (redis + api + worker processes + a receiver on loopback)', () => {
  let stack: Stack;
  let receiver: WebhookReceiver;
  let redis: Redis;
  before(async () => {
    receiver = await WebhookReceiver.start();
    stack = await startStack({
      env: {
        INFERQ_WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8',
        // Over a second apart, so each attempt has its own webhook-timestamp (and so signature).
        INFERQ_WEBHOOK_RETRY_SCHEDULE: '0,1.2,1.2',
        INFERQ_WEBHOOK_SECRET: `${NEW_SECRET} ${OLD_SECRET}`,
      },
      // wide-mlp is served by no worker: its jobs stay queued, to be canceled.
      workerEnv: { INFERQ_MODELS: 'fraud-risk,lookup' },
    });
    redis = stack.redis.connect();
  });
  after(async () => {
    await redis.quit();
    await stack.stop();
    await receiver.close();
  });

  const submit = async (body: unknown) => {
    const submitted = await request(stack.baseUrl, 'POST', '/v1/jobs', body);
    assert.equal(submitted.status, 202, JSON.stringify(submitted.body));
    return submitted.body as { job_id: string; poll_url: string };
  };
  const finished = async (pollUrl: string) => (await request(stack.baseUrl, 'GET', `${pollUrl}?wait=20`)).body;

  /** Polls the delivery log until `done` holds for it (the log is written after the receiver answers). */
  async function deliveriesWhen(jobId: string, done: (deliveries: any[]) => boolean): Promise<any[]> {
    let last: any;
    for (let i = 0; i < 200; i++) {
      last = await request(stack.baseUrl, 'GET', `/v1/jobs/${jobId}/deliveries`);
      assert.equal(last.status, 200);
      if (done(last.body.deliveries)) return last.body.deliveries;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.fail(`delivery log never settled: ${JSON.stringify(last?.body)}`);
  }

  test('500, 500, then 200: three attempts, one webhook-id, fresh valid signatures; payload data is the job as GET returns it', async () => {
    const url = receiver.script('/flaky', [{ status: 500 }, { status: 500 }]);
    const { job_id, poll_url } = await submit({ model: 'fraud-risk', features: RISKY_TRANSACTION, metadata: { order: 'A-7' }, webhook: { url } });
    const job = await finished(poll_url);
    assert.equal(job.status, 'succeeded');
    const hits = await receiver.waitFor('/flaky', 3);

    const ids = new Set(hits.map((h) => h.headers['webhook-id']));
    assert.equal(ids.size, 1, 'the same webhook-id on every attempt');
    assert.match(String([...ids][0]), /^msg_/);
    const timestamps = hits.map((h) => Number(h.headers['webhook-timestamp']));
    assert.ok(timestamps[0]! < timestamps[1]! && timestamps[1]! < timestamps[2]!, `a fresh timestamp each attempt: ${timestamps}`);
    assert.equal(new Set(hits.map((h) => h.headers['webhook-signature'])).size, 3, 'a fresh signature each attempt');
    for (const hit of hits) {
      assert.equal(String(hit.headers['webhook-signature']).split(' ').length, 2, 'signed with both secrets of the rotation');
      assert.equal(hit.body, hits[0]?.body, 'the same body every attempt');
      const payload = verified(hit);
      assert.equal(payload.type, 'job.succeeded');
      assert.equal(payload.timestamp, job.finished_at);
      assert.deepEqual(payload.data, job);
    }

    const [delivery, ...others] = await deliveriesWhen(job_id, (d) => d[0]?.state === 'succeeded');
    assert.equal(others.length, 0);
    assert.equal(delivery.delivery_id, [...ids][0]);
    assert.equal(delivery.event, 'job.succeeded');
    assert.equal(delivery.url, url);
    assert.equal(delivery.attempts_made, 3);
    assert.equal(delivery.next_attempt_at, null);
    assert.deepEqual(delivery.attempts.map((a: any) => [a.attempt, a.status_code, a.error]), [[1, 500, 'HTTP 500'], [2, 500, 'HTTP 500'], [3, 200, null]]);
    for (const a of delivery.attempts) assert.ok(typeof a.latency_ms === 'number' && Date.parse(a.at) > 0);
    assert.ok(Date.parse(delivery.attempts[0].next_attempt_at) > Date.parse(delivery.attempts[0].at));
    assert.equal(delivery.attempts[2].next_attempt_at, null);
  });

  test('every attempt failing leaves the delivery failed after the last attempt of the schedule', async () => {
    const url = receiver.script('/down', [{ status: 500 }, { status: 502 }, { status: 503 }]);
    const { job_id } = await submit({ model: 'fraud-risk', features: SAFE_TRANSACTION, webhook: { url } });
    await receiver.waitFor('/down', 3);
    const [delivery] = await deliveriesWhen(job_id, (d) => d[0]?.state === 'failed');
    assert.deepEqual(delivery.attempts.map((a: any) => a.status_code), [500, 502, 503]);
    assert.equal(delivery.next_attempt_at, null);
  });

  test('3xx counts as a failure and is retried; the redirect is never followed', async () => {
    const url = receiver.script('/moved', [{ status: 302, headers: { location: `${receiver.baseUrl}/redirect-target` } }]);
    const { job_id } = await submit({ model: 'fraud-risk', features: SAFE_TRANSACTION, webhook: { url } });
    await receiver.waitFor('/moved', 2);
    const [delivery] = await deliveriesWhen(job_id, (d) => d[0]?.state === 'succeeded');
    assert.deepEqual(delivery.attempts.map((a: any) => a.status_code), [302, 200]);
    assert.match(delivery.attempts[0].error, /redirects are not followed/);
    assert.equal(receiver.at('/redirect-target').length, 0);
  });

  test('410 Gone stops further attempts of that delivery', async () => {
    const url = receiver.script('/gone', [{ status: 410 }]);
    const { job_id } = await submit({ model: 'fraud-risk', features: SAFE_TRANSACTION, webhook: { url } });
    await receiver.waitFor('/gone', 1);
    const [delivery] = await deliveriesWhen(job_id, (d) => d[0]?.state === 'failed');
    assert.equal(delivery.attempts_made, 1);
    assert.equal(delivery.next_attempt_at, null);
    assert.match(delivery.attempts[0].error, /410/);
    // The queue job ends (failed, removed) instead of waiting in the delayed set for a retry.
    let left = 1;
    for (let i = 0; i < 100 && left > 0; i++) {
      left = await redis.exists(`inferq:{webhooks}:${delivery.delivery_id}`);
      if (left > 0) await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(left, 0, 'no retry is scheduled');
    assert.equal(await redis.zscore('inferq:{webhooks}:delayed', delivery.delivery_id), null);
    assert.equal(receiver.at('/gone').length, 1);
  });

  test('Retry-After is honoured: the next attempt is not before it', async () => {
    const url = receiver.script('/busy', [{ status: 503, headers: { 'retry-after': '3' } }]);
    const { job_id } = await submit({ model: 'fraud-risk', features: SAFE_TRANSACTION, webhook: { url } });
    const hits = await receiver.waitFor('/busy', 2);
    assert.ok(hits[1]!.receivedAt - hits[0]!.receivedAt >= 3000, `second attempt ${hits[1]!.receivedAt - hits[0]!.receivedAt} ms after the first`);
    const [delivery] = await deliveriesWhen(job_id, (d) => d[0]?.state === 'succeeded');
    const [first] = delivery.attempts;
    assert.equal(first.status_code, 503);
    assert.ok(Date.parse(first.next_attempt_at) - Date.parse(first.at) >= 3000);
  });

  test('redeliver sends the final event again under a new webhook-id, and the log shows both', async () => {
    const url = receiver.script('/again', []);
    const { job_id, poll_url } = await submit({ model: 'fraud-risk', features: SAFE_TRANSACTION, webhook: { url } });
    const job = await finished(poll_url);
    const [original] = await deliveriesWhen(job_id, (d) => d[0]?.state === 'succeeded');

    const redelivered = await request(stack.baseUrl, 'POST', `/v1/jobs/${job_id}/deliveries/redeliver`);
    assert.equal(redelivered.status, 202);
    assert.notEqual(redelivered.body.delivery_id, original.delivery_id);
    assert.equal(redelivered.body.redelivery_of, original.delivery_id);
    assert.equal(redelivered.body.event, 'job.succeeded');

    const hits = await receiver.waitFor('/again', 2);
    assert.deepEqual(hits.map((h) => h.headers['webhook-id']), [original.delivery_id, redelivered.body.delivery_id]);
    const payload = verified(hits[1]!);
    assert.equal(payload.type, 'job.succeeded');
    assert.deepEqual(payload.data, job);
    const deliveries = await deliveriesWhen(job_id, (d) => d.length === 2 && d.every((x) => x.state === 'succeeded'));
    assert.deepEqual(deliveries.map((d) => d.delivery_id), [original.delivery_id, redelivered.body.delivery_id]);
  });

  test('a canceled job announces job.canceled', async () => {
    const url = receiver.script('/canceled', []);
    const { poll_url } = await submit({ model: 'wide-mlp', inputs: wideMlpInput(1), webhook: { url } });
    const canceled = await request(stack.baseUrl, 'DELETE', poll_url);
    assert.equal(canceled.status, 200);
    const [hit] = await receiver.waitFor('/canceled', 1);
    const payload = verified(hit!);
    assert.equal(payload.type, 'job.canceled');
    assert.deepEqual(payload.data, (await request(stack.baseUrl, 'GET', poll_url)).body);
    assert.deepEqual(payload.data, canceled.body);
  });

  test('the events filter: only the named events are delivered', async () => {
    const url = receiver.script('/failures-only', []);
    const failing = await submit({ model: 'lookup', inputs: lookupInput([99]), webhook: { url, events: ['job.failed'] } });
    const succeeding = await submit({ model: 'fraud-risk', features: SAFE_TRANSACTION, webhook: { url, events: ['job.failed'] } });
    assert.equal((await finished(failing.poll_url)).status, 'failed');
    assert.equal((await finished(succeeding.poll_url)).status, 'succeeded');

    const [hit] = await receiver.waitFor('/failures-only', 1);
    const payload = verified(hit!);
    assert.equal(payload.type, 'job.failed');
    assert.equal(payload.data.job_id, failing.job_id);
    assert.equal(payload.data.error.code, 'INFERENCE_FAILED');

    // Once the succeeded job's subscription is on record (redeliver says why it refuses), its log is final: empty.
    let refusal: any;
    for (let i = 0; i < 100; i++) {
      refusal = await request(stack.baseUrl, 'POST', `/v1/jobs/${succeeding.job_id}/deliveries/redeliver`);
      if (refusal.body.error?.details?.event) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(refusal.status, 409);
    assert.equal(refusal.body.error.code, 'WEBHOOK_NOT_CONFIGURED');
    assert.equal(refusal.body.error.details.event, 'job.succeeded');
    assert.deepEqual((await request(stack.baseUrl, 'GET', `/v1/jobs/${succeeding.job_id}/deliveries`)).body.deliveries, []);
    assert.deepEqual(receiver.at('/failures-only').map((h) => JSON.parse(h.body).data.job_id), [failing.job_id]);
  });

  test('webhook URLs that reach internal addresses or other schemes are refused at submit with 422', async () => {
    const urls = [
      'http://169.254.169.254/latest/meta-data/',
      'http://10.0.0.1/hook',
      'http://192.168.1.1/hook',
      'http://3232235777/hook', // 192.168.1.1 as one decimal
      'http://[::ffff:10.0.0.1]/hook',
      'http://[fd00::1]/hook',
      'http://100.64.0.1/hook',
      'http://0.0.0.0/hook',
      'ftp://example.com/hook',
      'not a url',
    ];
    for (const url of urls) {
      const res = await request(stack.baseUrl, 'POST', '/v1/jobs', { model: 'fraud-risk', features: SAFE_TRANSACTION, webhook: { url } });
      assert.equal(res.status, 422, url);
      assert.equal(res.body.error.code, 'WEBHOOK_URL_REFUSED', url);
      assert.equal(typeof res.body.error.details.reason, 'string');
    }
    const badEvent = await request(stack.baseUrl, 'POST', '/v1/jobs', { model: 'fraud-risk', features: SAFE_TRANSACTION, webhook: { url: receiver.baseUrl, events: ['job.exploded'] } });
    assert.equal(badEvent.status, 400);
    assert.equal(badEvent.body.error.code, 'INVALID_REQUEST');
  });

  test('neither process logged an error while delivering', () => {
    const errors = [stack.api, ...stack.workers].flatMap((p) => p.lines).filter((l) => /"level":(50|60)/.test(l));
    assert.deepEqual(errors, []);
  });

  test('delivery routes: 404 for unknown jobs, 409 before the job ends or without a webhook', async () => {
    for (const id of ['fraud-risk.01ARZ3NDEKTSV4RRFFQ69G5FAV', 'nope']) {
      const log = await request(stack.baseUrl, 'GET', `/v1/jobs/${id}/deliveries`);
      assert.equal(log.status, 404);
      assert.equal(log.body.error.code, 'JOB_NOT_FOUND');
      const again = await request(stack.baseUrl, 'POST', `/v1/jobs/${id}/deliveries/redeliver`);
      assert.equal(again.status, 404);
      assert.equal(again.body.error.code, 'JOB_NOT_FOUND');
    }
    const queued = await submit({ model: 'wide-mlp', inputs: wideMlpInput(1), webhook: { url: receiver.script('/never', []) } });
    assert.deepEqual((await request(stack.baseUrl, 'GET', `/v1/jobs/${queued.job_id}/deliveries`)).body, { job_id: queued.job_id, deliveries: [] });
    const early = await request(stack.baseUrl, 'POST', `/v1/jobs/${queued.job_id}/deliveries/redeliver`);
    assert.equal(early.status, 409);
    assert.equal(early.body.error.code, 'JOB_NOT_FINISHED');

    const plain = await submit({ model: 'fraud-risk', features: SAFE_TRANSACTION });
    await finished(plain.poll_url);
    const none = await request(stack.baseUrl, 'POST', `/v1/jobs/${plain.job_id}/deliveries/redeliver`);
    assert.equal(none.status, 409);
    assert.equal(none.body.error.code, 'WEBHOOK_NOT_CONFIGURED');
  });

  test('a batch webhook hears batch.progress as tenths of the rows finish, then one batch.completed', async () => {
    const url = receiver.script('/batch', []);
    const rows = Array.from({ length: 12_000 }, (_, i) => JSON.stringify({ id: i, features: { ...RISKY_TRANSACTION, amount: 1 + i } })).join('\n');
    const query = new URLSearchParams({ model: 'fraud-risk', webhook_url: url }).toString();
    const res = await fetch(`${stack.baseUrl}/v1/batches?${query}`, { method: 'POST', body: rows, headers: { 'content-type': 'application/x-ndjson' } });
    assert.equal(res.status, 202);
    const batch = (await res.json()) as { batch_id: string; poll_url: string };
    await request(stack.baseUrl, 'GET', `${batch.poll_url}?wait=60`);
    const deadline = Date.now() + 20_000;
    let events: { type: string; data: any }[] = [];
    while (Date.now() < deadline) {
      events = receiver.at('/batch').map(verified);
      if (events.some((e) => e.type === 'batch.completed')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const completed = events.filter((e) => e.type === 'batch.completed');
    assert.equal(completed.length, 1);
    assert.equal(completed[0]?.data.batch_id, batch.batch_id);
    assert.equal(completed[0]?.data.status, 'succeeded');
    assert.equal(completed[0]?.data.succeeded, 12_000);
    // How many tenths are seen while scoring depends on how fast the upload and the workers go
    // (a batch scored before its upload even closed has no percentage to report until its end).
    // Each event's data is the batch as GET shows it when the event is sent, so a later chunk may
    // already be counted in it: percents can repeat, never exceed 100, never go below a tenth.
    const progress = events.filter((e) => e.type === 'batch.progress').map((e) => e.data);
    assert.ok(progress.length <= 10, `${progress.length} progress events`);
    assert.ok(progress.every((d) => d.batch_id === batch.batch_id && d.percent >= 10 && d.percent <= 100), JSON.stringify(progress.map((d) => d.percent)));
    assert.equal(new Set(receiver.at('/batch').map((h) => h.headers['webhook-id'])).size, events.length, 'one delivery per event');

    const refused = await fetch(`${stack.baseUrl}/v1/batches?model=fraud-risk&webhook_url=${encodeURIComponent('http://169.254.169.254/latest')}`, {
      method: 'POST',
      body: rows.slice(0, 200),
      headers: { 'content-type': 'application/x-ndjson' },
    });
    assert.equal(refused.status, 422);
    assert.equal(((await refused.json()) as any).error.code, 'WEBHOOK_URL_REFUSED');
  });
});

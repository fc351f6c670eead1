import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { InferqWebhookVerificationError } from '../../packages/client/src/client-errors.ts';
import { verifyWebhook } from '../../packages/client/src/verify-webhook.ts';
import { newSecret, signedHeaders } from '../../packages/webhooks/src/signer.ts';
import { STANDARD_WEBHOOKS_VECTOR } from '../support/standard-webhooks-vector.ts';

const VECTOR = STANDARD_WEBHOOKS_VECTOR;
const vectorHeaders = { 'webhook-id': VECTOR.id, 'webhook-timestamp': String(VECTOR.timestamp), 'webhook-signature': VECTOR.signature };
const atVectorTime = { now: new Date(VECTOR.timestamp * 1000) };

const refused = (fn: () => unknown, why: RegExp) =>
  assert.throws(fn, (error: unknown) => error instanceof InferqWebhookVerificationError && error.code === 'WEBHOOK_VERIFICATION_FAILED' && why.test(error.message));

describe('verifyWebhook (Standard Webhooks)', () => {
  test('accepts the published test vector and returns the parsed body', () => {
    assert.deepEqual(verifyWebhook(VECTOR.payload, vectorHeaders, VECTOR.secret, atVectorTime), { test: 2432232314 });
    // As bytes, and with a fetch Headers object.
    assert.deepEqual(verifyWebhook(new TextEncoder().encode(VECTOR.payload), new Headers(vectorHeaders), VECTOR.secret, atVectorTime), { test: 2432232314 });
  });

  test("accepts what inferq's signer and the reference library sign; Node's header record, any case", () => {
    const secret = newSecret();
    const body = JSON.stringify({ type: 'job.succeeded', timestamp: new Date().toISOString(), data: { job_id: 'x' } });
    const now = Math.floor(Date.now() / 1000);
    assert.equal(verifyWebhook(body, { ...signedHeaders([secret], 'msg_1', now, body) }, secret).type, 'job.succeeded');
    const signature = new Webhook(secret).sign('msg_2', new Date(now * 1000), body);
    assert.equal(verifyWebhook(body, { 'Webhook-Id': 'msg_2', 'Webhook-Timestamp': String(now), 'Webhook-Signature': signature }, secret).type, 'job.succeeded');
  });

  test('a rotation: several signatures in the header, several secrets on the receiver', () => {
    const [fresh, old, unrelated] = [newSecret(), newSecret(), newSecret()];
    const body = '{"type":"job.failed"}';
    const headers = { ...signedHeaders([fresh, old], 'msg_rot', Math.floor(Date.now() / 1000), body) };
    assert.deepEqual(verifyWebhook(body, headers, old), { type: 'job.failed' });
    assert.deepEqual(verifyWebhook(body, headers, [unrelated, fresh]), { type: 'job.failed' });
    assert.deepEqual(verifyWebhook(body, headers, `${unrelated} ${old}`), { type: 'job.failed' }, 'INFERQ_WEBHOOK_SECRET format');
    refused(() => verifyWebhook(body, headers, unrelated), /no signature matches/);
  });

  test('refuses an altered body, another id, a stale or future timestamp, and missing headers', () => {
    refused(() => verifyWebhook('{"test": 2432232315}', vectorHeaders, VECTOR.secret, atVectorTime), /no signature matches/);
    refused(() => verifyWebhook(VECTOR.payload, { ...vectorHeaders, 'webhook-id': 'msg_other' }, VECTOR.secret, atVectorTime), /no signature matches/);
    refused(() => verifyWebhook(VECTOR.payload, vectorHeaders, VECTOR.secret, { now: new Date((VECTOR.timestamp + 301) * 1000) }), /301 s old, more than the 300 s/);
    refused(() => verifyWebhook(VECTOR.payload, vectorHeaders, VECTOR.secret, { now: new Date((VECTOR.timestamp - 301) * 1000) }), /in the future/);
    assert.doesNotThrow(() => verifyWebhook(VECTOR.payload, vectorHeaders, VECTOR.secret, { now: new Date((VECTOR.timestamp + 300) * 1000) }), 'inside the tolerance');
    assert.doesNotThrow(() => verifyWebhook(VECTOR.payload, vectorHeaders, VECTOR.secret, { now: new Date((VECTOR.timestamp + 3600) * 1000), toleranceSeconds: 3600 }));
    refused(() => verifyWebhook(VECTOR.payload, { 'webhook-id': VECTOR.id, 'webhook-timestamp': String(VECTOR.timestamp) }, VECTOR.secret, atVectorTime), /missing/);
    refused(() => verifyWebhook(VECTOR.payload, { ...vectorHeaders, 'webhook-timestamp': 'yesterday' }, VECTOR.secret, atVectorTime), /not Unix seconds/);
    refused(() => verifyWebhook(VECTOR.payload, { ...vectorHeaders, 'webhook-signature': 'v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=' }, VECTOR.secret, atVectorTime), /no signature matches/);
    refused(() => verifyWebhook(VECTOR.payload, { ...vectorHeaders, 'webhook-signature': 'v1,g0hM9SsE' }, VECTOR.secret, atVectorTime), /no signature matches/);
  });
});

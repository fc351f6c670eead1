import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { newSecret, sign, signedHeaders } from '../../packages/webhooks/src/signer.ts';
import { STANDARD_WEBHOOKS_VECTOR } from '../support/standard-webhooks-vector.ts';

const VECTOR = STANDARD_WEBHOOKS_VECTOR;

describe('webhook signer (Standard Webhooks)', () => {
  test('reproduces the published test vector', () => {
    assert.equal(sign(VECTOR.secret, VECTOR.id, VECTOR.timestamp, VECTOR.payload), VECTOR.signature);
    // The same as the reference library computes.
    assert.equal(new Webhook(VECTOR.secret).sign(VECTOR.id, new Date(VECTOR.timestamp * 1000), VECTOR.payload), VECTOR.signature);
  });

  test('the standardwebhooks library verifies what the signer produces', () => {
    const secret = newSecret();
    assert.match(secret, /^whsec_[A-Za-z0-9+/]+=*$/);
    const body = JSON.stringify({ type: 'job.succeeded', timestamp: new Date().toISOString(), data: { job_id: 'x', result: { label: 'fraud' } } });
    const headers = signedHeaders([secret], 'msg_abc', Math.floor(Date.now() / 1000), body);
    assert.deepEqual(new Webhook(secret).verify(body, { ...headers }), JSON.parse(body));
  });

  test('during a rotation every secret signs, and a receiver holding either one verifies', () => {
    const [fresh, old, unrelated] = [newSecret(), newSecret(), newSecret()];
    const body = '{"type":"job.failed"}';
    const headers = signedHeaders([fresh, old], 'msg_rot', Math.floor(Date.now() / 1000), body);
    assert.equal(headers['webhook-signature'].split(' ').length, 2);
    assert.doesNotThrow(() => new Webhook(fresh).verify(body, { ...headers }));
    assert.doesNotThrow(() => new Webhook(old).verify(body, { ...headers }));
    assert.throws(() => new Webhook(unrelated).verify(body, { ...headers }), WebhookVerificationError);
  });

  test('a changed body, id or stale timestamp fails verification', () => {
    const secret = newSecret();
    const now = Math.floor(Date.now() / 1000);
    const headers = signedHeaders([secret], 'msg_1', now, '{"a":1}');
    const receiver = new Webhook(secret);
    assert.throws(() => receiver.verify('{"a":2}', { ...headers }), WebhookVerificationError);
    assert.throws(() => receiver.verify('{"a":1}', { ...headers, 'webhook-id': 'msg_2' }), WebhookVerificationError);
    const stale = signedHeaders([secret], 'msg_1', now - 3600, '{"a":1}');
    assert.throws(() => receiver.verify('{"a":1}', { ...stale }), WebhookVerificationError);
  });

  test('no secret is an error, not an unsigned delivery', () => {
    assert.throws(() => signedHeaders([], 'msg_1', 1, '{}'), /no webhook signing secret/);
  });
});

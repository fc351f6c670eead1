import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { redactUrl } from '../../packages/webhooks/src/delivery-log.ts';
import { jobEventType, subscribesTo, webhookBody } from '../../packages/webhooks/src/events.ts';

describe('webhook events', () => {
  test('a job ends with job.succeeded, job.failed or job.canceled', () => {
    assert.deepEqual((['succeeded', 'failed', 'canceled'] as const).map(jobEventType), ['job.succeeded', 'job.failed', 'job.canceled']);
  });

  test('no filter means every job.* event and no batch event; a filter means exactly its events', () => {
    const all = { url: 'https://example.com' };
    assert.ok(subscribesTo(all, 'job.succeeded') && subscribesTo(all, 'job.failed') && subscribesTo(all, 'job.canceled'));
    assert.ok(!subscribesTo(all, 'batch.progress') && !subscribesTo(all, 'batch.completed'));
    const some = { url: 'https://example.com', events: ['job.failed', 'batch.completed'] };
    assert.ok(subscribesTo(some, 'job.failed') && subscribesTo(some, 'batch.completed'));
    assert.ok(!subscribesTo(some, 'job.succeeded') && !subscribesTo(some, 'batch.progress'));
  });

  test('the payload is {type, timestamp, data}', () => {
    assert.deepEqual(JSON.parse(webhookBody('job.failed', '2025-01-01T00:00:00.000Z', { job_id: 'j' })), {
      type: 'job.failed',
      timestamp: '2025-01-01T00:00:00.000Z',
      data: { job_id: 'j' },
    });
  });
});

describe('delivery log URLs', () => {
  test('a password in the webhook URL is masked in the log', () => {
    assert.equal(redactUrl('https://hooks:s3cret@example.com/in?x=1'), 'https://hooks:***@example.com/in?x=1');
    assert.equal(redactUrl('https://example.com/in'), 'https://example.com/in');
  });
});

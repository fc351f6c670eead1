import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../../packages/core/src/config.ts';
import { parseRetryAfter, RetrySchedule } from '../../packages/webhooks/src/retry-schedule.ts';

describe('webhook retry schedule', () => {
  test('the default schedule: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h', () => {
    const config = loadConfig({}, {});
    assert.deepEqual(config.webhookRetrySchedule, [0, 5, 300, 1800, 7200, 18000, 36000, 36000]);
    const exact = new RetrySchedule(config.webhookRetrySchedule, { jitter: 0 });
    assert.equal(exact.attempts, 8);
    assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 8].map((n) => exact.delayBefore(n)), [0, 5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000]);
    assert.equal(exact.delayBefore(9), undefined, 'no attempt after the last');
  });

  test('jitter stays within ±10 % by default, and is random', () => {
    const low = new RetrySchedule([0, 100], { random: () => 0 });
    const high = new RetrySchedule([0, 100], { random: () => 0.999999 });
    assert.equal(low.delayBefore(2), 90_000);
    assert.equal(high.delayBefore(2), 110_000);
    const seen = new Set(Array.from({ length: 20 }, () => new RetrySchedule([0, 100]).delayBefore(2)));
    assert.ok(seen.size > 1);
    for (const d of seen) assert.ok(d !== undefined && d >= 90_000 && d <= 110_000);
  });

  test("a receiver's Retry-After is a floor on the delay, capped at 24 h by default", () => {
    const schedule = new RetrySchedule([0, 1], { jitter: 0 });
    assert.equal(schedule.delayBefore(2, 30_000), 30_000);
    assert.equal(schedule.delayBefore(2, 10), 1_000, 'a shorter Retry-After does not hurry the schedule');
    assert.equal(schedule.delayBefore(2, 10 * 86_400_000), 86_400_000);
  });

  test('Retry-After: delta-seconds or an HTTP date', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    assert.equal(parseRetryAfter('120', now), 120_000);
    assert.equal(parseRetryAfter(' 0 ', now), 0);
    assert.equal(parseRetryAfter('Wed, 01 Jan 2025 00:01:30 GMT', now), 90_000);
    assert.equal(parseRetryAfter('Tue, 31 Dec 2024 00:00:00 GMT', now), 0, 'a date in the past means now');
    assert.equal(parseRetryAfter('soon', now), undefined);
    assert.equal(parseRetryAfter(undefined, now), undefined);
  });

  test('INFERQ_WEBHOOK_RETRY_SCHEDULE, _SECRET and _ALLOW_CIDRS are parsed and checked at start-up', () => {
    const config = loadConfig({}, {
      INFERQ_WEBHOOK_RETRY_SCHEDULE: '0, 0.2,0.2',
      INFERQ_WEBHOOK_SECRET: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw whsec_AAAAAAAAAAAAAAAAAAAAAAAA,whsec_BBBBBBBBBBBBBBBBBBBBBBBB',
      INFERQ_WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8, fd00::/8',
    });
    assert.deepEqual(config.webhookRetrySchedule, [0, 0.2, 0.2]);
    assert.deepEqual(config.webhookSecrets, ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'whsec_AAAAAAAAAAAAAAAAAAAAAAAA', 'whsec_BBBBBBBBBBBBBBBBBBBBBBBB']);
    assert.deepEqual(config.webhookAllowCidrs, ['127.0.0.0/8', 'fd00::/8']);
    assert.deepEqual(loadConfig({}, {}).webhookSecrets, []);
    for (const [name, value] of [
      ['INFERQ_WEBHOOK_RETRY_SCHEDULE', '0,soon'],
      ['INFERQ_WEBHOOK_RETRY_SCHEDULE', ''],
      ['INFERQ_WEBHOOK_RETRY_SCHEDULE', '0,-5'],
      ['INFERQ_WEBHOOK_SECRET', 'hunter2'],
      ['INFERQ_WEBHOOK_ALLOW_CIDRS', '10.0.0.0'],
      ['INFERQ_WEBHOOK_ALLOW_CIDRS', '10.0.0.0/33'],
      ['INFERQ_WEBHOOK_ALLOW_CIDRS', 'example.com/8'],
    ] as const) {
      assert.throws(() => loadConfig({}, { [name]: value }), (e: unknown) => e instanceof ConfigError && e.message.includes(name), `${name}=${value}`);
    }
  });
});

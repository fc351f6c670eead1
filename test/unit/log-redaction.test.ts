import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { loadConfig } from '../../packages/core/src/config.ts';
import { createLogger } from '../../packages/core/src/logger.ts';

const API_KEY = 'key-aaaaaaaa-secret-1';
const ADMIN_KEY = 'admin-key-secret-2';
const WEBHOOK_SECRET = 'whsec_c2VjcmV0LXNpZ25pbmcta2V5LTM=';
const REDIS_PASSWORD = 'redis-password-4';

function capture() {
  let text = '';
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString();
      done();
    },
  });
  return { logger: createLogger({ level: 'debug', destination }), output: () => text };
}

describe('logs never carry credentials', () => {
  test('keys, admin keys, webhook secrets, Authorization headers and Redis passwords are redacted wherever they sit', () => {
    const { logger, output } = capture();
    const env = { INFERQ_API_KEYS: `tenant-a:${API_KEY}`, INFERQ_ADMIN_KEYS: ADMIN_KEY, INFERQ_WEBHOOK_SECRET: WEBHOOK_SECRET, REDIS_URL: `redis://:${REDIS_PASSWORD}@127.0.0.1:6379` };
    const config = loadConfig({}, env);
    logger.info(config, 'config at top level');
    logger.info({ config }, 'config nested');
    logger.info({ env }, 'environment');
    logger.info(env, 'environment at top level');
    logger.info({ req: { method: 'GET', url: '/v1/jobs', headers: { authorization: `Bearer ${API_KEY}` } } }, 'request');
    logger.info({ headers: { authorization: `Bearer ${ADMIN_KEY}` } }, 'headers');
    logger.info({ request: { headers: { authorization: `Bearer ${ADMIN_KEY}` } } }, 'nested headers');
    logger.child({ component: 'webhooks' }).warn({ secret: WEBHOOK_SECRET, delivery: { secrets: [WEBHOOK_SECRET] } }, 'signing');
    logger.info({ authorization: `Bearer ${API_KEY}` }, 'a bare authorization field');

    const text = output();
    assert.equal(text.trim().split('\n').length, 9, 'every line was written');
    for (const secret of [API_KEY, ADMIN_KEY, WEBHOOK_SECRET, REDIS_PASSWORD]) assert.ok(!text.includes(secret), `${secret} leaked into:\n${text}`);
    assert.ok(text.includes('[redacted]'));
    // What is not a credential still reads normally.
    const top = JSON.parse(text.split('\n')[0] as string) as Record<string, unknown>;
    assert.equal(top.resultTtlSeconds, 3600);
    assert.equal(top.apiKeys, '[redacted]');
  });
});

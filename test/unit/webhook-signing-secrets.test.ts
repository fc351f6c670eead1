import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { Webhook } from 'standardwebhooks';
import { Keyspace } from '../../packages/core/src/keyspace.ts';
import { createProducerConnection, type Redis } from '../../packages/core/src/redis-connection.ts';
import { signedHeaders } from '../../packages/webhooks/src/signer.ts';
import { resolveSigningSecrets } from '../../packages/webhooks/src/signing-secrets.ts';
import { startLocalRedis, type LocalRedis } from '../../scripts/lib/local-redis.ts';

function capturingLogger() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}

describe('webhook signing secrets', () => {
  let local: LocalRedis;
  let redis: Redis;
  before(async () => {
    local = await startLocalRedis();
    redis = createProducerConnection(local.url, { enableOfflineQueue: true });
  });
  after(async () => {
    await redis.quit();
    await local.stop();
  });

  test('with none configured, processes starting together generate one secret, store it once, and log it once', async () => {
    const keys = new Keyspace('gen');
    const { logger, lines } = capturingLogger();
    const resolved = await Promise.all(Array.from({ length: 8 }, () => resolveSigningSecrets({ configured: [], redis, keys, logger })));
    const secrets = new Set(resolved.map((r) => r.join(' ')));
    assert.equal(secrets.size, 1, 'every process signs with the same secret');
    const [secret] = [...secrets];
    assert.match(secret ?? '', /^whsec_[A-Za-z0-9+/]+=*$/);
    assert.equal(await redis.get(keys.webhookSecret('default')), secret);
    await new Promise((r) => setImmediate(r));
    const logged = lines.filter((l) => l.webhook_signing_secret !== undefined);
    assert.equal(logged.length, 1);
    assert.equal(logged[0]?.webhook_signing_secret, secret);

    // A later process reuses it without logging it again.
    assert.deepEqual(await resolveSigningSecrets({ configured: [], redis, keys, logger }), [secret]);
    await new Promise((r) => setImmediate(r));
    assert.equal(lines.filter((l) => l.webhook_signing_secret !== undefined).length, 1);

    // The stored secret verifies with the reference library.
    const body = '{"type":"job.succeeded"}';
    const headers = signedHeaders([secret as string], 'msg_x', Math.floor(Date.now() / 1000), body);
    assert.doesNotThrow(() => new Webhook(secret as string).verify(body, { ...headers }));
  });

  test('configured secrets are used as they are and nothing is stored', async () => {
    const keys = new Keyspace('configured');
    const { logger, lines } = capturingLogger();
    const configured = ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'whsec_AAAAAAAAAAAAAAAAAAAAAAAA'];
    assert.deepEqual(await resolveSigningSecrets({ configured, redis, keys, logger }), configured);
    assert.equal(await redis.exists(keys.webhookSecret('default')), 0);
    assert.equal(lines.length, 0);
  });

  test('each tenant has its own generated secret', async () => {
    const keys = new Keyspace('tenants');
    const { logger } = capturingLogger();
    const [a] = await resolveSigningSecrets({ configured: [], redis, keys, logger, tenant: 'a' });
    const [b] = await resolveSigningSecrets({ configured: [], redis, keys, logger, tenant: 'b' });
    assert.notEqual(a, b);
  });
});

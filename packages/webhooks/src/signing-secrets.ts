import type { Keyspace } from '@inferq/core/keyspace';
import type { Logger } from '@inferq/core/logger';
import type { Redis } from '@inferq/core/redis-connection';
import { newSecret } from './signer.ts';

export interface SigningSecretsOptions {
  /** Secrets from configuration, newest first; when non-empty they are used as they are. */
  configured: readonly string[];
  redis: Redis;
  keys: Keyspace;
  logger: Logger;
  /** Whose secret. Default: 'default' (the only tenant configuration names today). */
  tenant?: string;
}

/**
 * The secrets a tenant's deliveries are signed with. With none configured, one is generated and
 * stored in Redis with SET NX, so every API and worker process, however many start at once,
 * signs with the same one; the process that wins the race logs it, once, for the operator to
 * hand to receivers.
 */
export async function resolveSigningSecrets(options: SigningSecretsOptions): Promise<string[]> {
  if (options.configured.length > 0) return [...options.configured];
  const tenant = options.tenant ?? 'default';
  const key = options.keys.webhookSecret(tenant);
  const candidate = newSecret();
  if ((await options.redis.set(key, candidate, 'NX')) === 'OK') {
    // Not under a `secret` field: the logger redacts those, and this line exists to show it.
    options.logger.warn(
      { tenant, webhook_signing_secret: candidate },
      'generated a webhook signing secret and stored it in Redis; receivers verify deliveries with it. Set INFERQ_WEBHOOK_SECRET to choose your own',
    );
    return [candidate];
  }
  const stored = await options.redis.get(key);
  if (!stored) throw new Error(`webhook signing secret at ${key} vanished; restart to generate a new one`);
  return [stored];
}

import type { MiddlewareHandler } from 'hono';
import { InferqError } from '@inferq/core/errors';
import type { AppEnv } from '../app-env.ts';
import { DEFAULT_TENANT, type Keyring, type Scope } from './keyring.ts';

export interface AuthenticateOptions {
  keyring: Keyring;
}

function bearerKey(header: string): string | undefined {
  return /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
}

/** HTTP Basic with the key as the password, so a browser can open the queue dashboard. */
function basicPassword(header: string): string | undefined {
  const encoded = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header)?.[1];
  if (!encoded) return undefined;
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon >= 0 && colon < decoded.length - 1 ? decoded.slice(colon + 1) : undefined;
}

const OPEN_PRINCIPAL = { tenant: DEFAULT_TENANT, scopes: new Set<Scope>(['jobs', 'admin']) };

/**
 * `Authorization: Bearer <key>` → the request's tenant and scopes. Missing or unknown keys are
 * 401 with a `WWW-Authenticate` challenge. In open mode (no keys configured) every request is
 * the default tenant with every scope.
 */
export function authenticate({ keyring }: AuthenticateOptions): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (keyring.open) {
      c.set('principal', OPEN_PRINCIPAL);
      return next();
    }
    const header = c.req.header('authorization') ?? '';
    const key = bearerKey(header) ?? basicPassword(header);
    // Browsers on /admin are offered Basic (key as password); API clients see the Bearer challenge.
    c.header('WWW-Authenticate', c.req.path.startsWith('/admin') ? 'Basic realm="inferq admin", charset="UTF-8"' : 'Bearer realm="inferq"');
    if (!key) throw new InferqError('UNAUTHORIZED', header ? 'the Authorization header must be "Bearer <key>"' : 'send your API key as "Authorization: Bearer <key>"');
    const principal = keyring.authenticate(key);
    if (!principal) throw new InferqError('UNAUTHORIZED', 'the API key is not valid');
    c.res.headers.delete('WWW-Authenticate');
    c.set('principal', principal);
    c.get('log')?.bind({ tenant: principal.tenant });
    return next();
  };
}

/** Routes for operators only (schedules, queue dashboard, routing): 403 for other keys. */
export function requireScope(scope: Scope): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (!c.get('principal')?.scopes.has(scope)) throw new InferqError('FORBIDDEN', `this route needs the ${scope} scope`);
    return next();
  };
}

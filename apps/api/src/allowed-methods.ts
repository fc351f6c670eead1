import type { Hono } from 'hono';

/** What `app.routes` lists for each registered handler (middleware registers as method `ALL`). */
interface RegisteredRoute {
  method: string;
  path: string;
}

/** A Hono path pattern (`/v1/jobs/:id`, `/docs/*`, `:id{[0-9]+}`) as an anchored regular expression. */
function patternToRegExp(pattern: string): RegExp {
  let source = '';
  for (const part of pattern.split('/').slice(1)) {
    source += '/';
    if (part === '*') source += '.*';
    else if (part.startsWith(':')) {
      const custom = /^:[^{?]+\{(.+)\}\??$/.exec(part);
      source += custom ? `(?:${custom[1]})` : '[^/]+';
    } else source += part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source || '/'}/?$`);
}

/**
 * For a path no route answers, the methods that a route does answer on it, for a 405 with
 * `Allow` instead of a 404 (`PUT /v1/jobs`). Read from the app's own routing table, once, after
 * every route is registered: nothing to keep in step per route.
 */
export function allowedMethodsOf(app: Hono<never> | { routes: RegisteredRoute[] }): (path: string) => string[] {
  let table: { pattern: RegExp; method: string }[] | undefined;
  return (path) => {
    table ??= (app.routes as RegisteredRoute[])
      .filter((route) => route.method !== 'ALL')
      .map((route) => ({ pattern: patternToRegExp(route.path), method: route.method.toUpperCase() }));
    const methods = new Set(table.filter((route) => route.pattern.test(path)).map((route) => route.method));
    if (methods.has('GET')) methods.add('HEAD');
    return [...methods].sort();
  };
}

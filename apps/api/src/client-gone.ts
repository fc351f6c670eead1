import type { ServerResponse } from 'node:http';
import type { Context } from 'hono';

/**
 * Aborts when the client goes away, so a held long-poll is released at once. On the node server
 * it listens to the response's `close`; reading `c.req.raw.signal` there would build the whole
 * web Request (headers copied, an AbortSignal wired to the socket) for every long-poll. Under
 * `app.request()` (tests) there is no node response, and the Request's own signal serves.
 */
export function clientGone(c: Context): AbortSignal {
  const outgoing = (c.env as { outgoing?: ServerResponse } | undefined)?.outgoing;
  if (!outgoing) return c.req.raw.signal;
  const controller = new AbortController();
  outgoing.once('close', () => controller.abort());
  return controller.signal;
}

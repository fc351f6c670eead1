import { Hono, type Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import { InferqError } from '@inferq/core/errors';
import { guardRedis } from '@inferq/core/redis-connection';
import type { AppEnv } from '../app-env.ts';
import { batchEventFeed } from '../services/batch-event-feed.ts';
import type { BatchService } from '../services/batch-service.ts';
import type { EventHub } from '../services/event-hub.ts';
import { jobEventFeed } from '../services/job-event-feed.ts';
import type { JobService } from '../services/job-service.ts';
import { parseLastEventId, type OutgoingEvent, type StateFeed } from '../services/state-feed.ts';

export interface EventsRoutesOptions {
  hub: EventHub;
  jobs: JobService;
  batches: BatchService;
  /** Quiet time after which a stream sends a heartbeat comment (and re-reads the state). */
  heartbeatMs: number;
}

/** When a client refused for the stream cap should try again (here, or on another replica). */
const FULL_RETRY_AFTER_SECONDS = 5;

/**
 * Answers with a `text/event-stream`: the events that take the client from its Last-Event-ID (or
 * from nothing) to the state now, then one per change until the final state. Errors that come
 * before the first byte (404, the stream cap, Redis down) are ordinary error responses; a client
 * that has already seen the final event gets 204, which tells it not to reconnect.
 */
async function streamFeed<V>(c: Context<AppEnv>, options: EventsRoutesOptions, feed: StateFeed<V>): Promise<Response> {
  const { hub, heartbeatMs } = options;
  const subscription = hub.open(feed.ids);
  if (!subscription) {
    throw new InferqError('EVENT_STREAMS_FULL', `this API process already holds ${hub.held} event streams (INFERQ_MAX_HELD_EVENT_STREAMS)`, { retryAfterSeconds: FULL_RETRY_AFTER_SECONDS });
  }
  let seen = parseLastEventId(c.req.header('last-event-id'));
  let view: V;
  try {
    // Listening before the read: a change between the two is heard, not lost.
    await guardRedis(() => subscription.ready);
    view = await feed.read();
  } catch (error) {
    subscription.close();
    throw error;
  }
  const first = feed.eventsSince(seen, view);
  if (first.length === 0 && feed.isFinal(view)) {
    subscription.close();
    return c.body(null, 204);
  }
  const log = c.get('log');
  c.header('X-Accel-Buffering', 'no');
  return streamSSE(c, async (stream) => {
    stream.onAbort(() => subscription.close());
    c.req.raw.signal.addEventListener('abort', () => subscription.close(), { once: true });
    const send = async (events: OutgoingEvent[]) => {
      for (const event of events) {
        await stream.writeSSE({ id: event.id, event: event.event, data: JSON.stringify(event.data) });
        seen = Number(event.id);
      }
    };
    try {
      await send(first);
      while (!feed.isFinal(view)) {
        const next = await subscription.next(heartbeatMs);
        if (next === 'closed') return;
        if (next === 'idle') {
          await stream.write(': heartbeat\n\n');
          // Pub/sub delivers at most once: the re-read catches a message lost to a reconnect.
          view = await feed.read();
        } else {
          view = await feed.afterNotice(next);
        }
        await send(feed.eventsSince(seen, view));
      }
    } catch (error) {
      // The stream just ends; the client reconnects with Last-Event-ID and gets the error (a 404, a 503) as a response.
      log?.logger.warn({ err: (error as Error).message }, 'event stream ended early');
    } finally {
      subscription.close();
    }
  });
}

/** `GET /v1/jobs/{id}/events` and `GET /v1/batches/{id}/events` (Server-Sent Events). */
export function eventsRoutes(options: EventsRoutesOptions) {
  return new Hono<AppEnv>()
    .get('/jobs/:id/events', (c) => streamFeed(c, options, jobEventFeed(options.jobs, c.req.param('id'), c.get('principal').tenant)))
    .get('/batches/:id/events', (c) => streamFeed(c, options, batchEventFeed(options.batches, c.req.param('id'), c.get('principal').tenant)));
}

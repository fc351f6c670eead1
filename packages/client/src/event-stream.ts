import { CLIENT_ERROR_CODES, InferqError, InferqUnavailableError } from './client-errors.ts';
import type { HttpTransport } from './http-transport.ts';
import { retryDelayMs, sleep } from './retry-delay.ts';
import { ServerSentEventParser } from './sse-parser.ts';

/** One event of a job's or batch's stream. */
export interface StreamEvent<T = unknown> {
  /** The SSE event type, e.g. `queued`, `running`, `progress`, `succeeded`. */
  type: string;
  /** The event's `id:` (resume from it with `lastEventId`); empty when the server sent none. */
  id: string;
  /** The event's data, parsed as JSON (the raw text when it is not JSON). */
  data: T;
}

export interface EventsOptions {
  /** Resume after this event id (sent as `Last-Event-ID`): only later events come. Default: from the current state. */
  lastEventId?: string;
  /** Reconnections in a row without an event before giving up with `STREAM_INTERRUPTED`. Default: the client's `maxRetries`. */
  maxReconnects?: number;
  /** Ends the stream (the loop then ends without an error). */
  signal?: AbortSignal;
}

const FINISHED = new Set(['succeeded', 'failed', 'canceled', 'completed']);

/**
 * The event that ends a stream: a final state, whether the server names events after states
 * (`succeeded`) or after webhook types (`job.succeeded`, `batch.completed`), or carries the state
 * in the data's `status`.
 */
export function isTerminalEvent(event: StreamEvent): boolean {
  if (FINISHED.has(event.type.replace(/^(job|batch)\./, ''))) return true;
  const status = (event.data as { status?: unknown } | null)?.status;
  return typeof status === 'string' && FINISHED.has(status) && status !== 'completed';
}

function parseData(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * The events of `GET <path>` (`text/event-stream`) until the terminal one. When the connection
 * drops before it, the stream is opened again with `Last-Event-ID`, after the server's `retry:`
 * delay (or backoff), so no event is missed; a 503 with `Retry-After` (the server's stream cap) is
 * waited out by the transport's retries. Leaving the loop early closes the connection.
 */
export async function* streamEvents<T>(transport: HttpTransport, path: string, options: EventsOptions = {}): AsyncGenerator<StreamEvent<T>, void, undefined> {
  const maxReconnects = options.maxReconnects ?? transport.options.maxRetries;
  const policy = { baseDelayMs: transport.options.retryBaseDelayMs, maxDelayMs: transport.options.maxRetryDelayMs };
  const parser = new ServerSentEventParser();
  parser.lastEventId = options.lastEventId ?? '';
  let reconnects = 0;
  for (;;) {
    const local = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, local.signal]) : local.signal;
    let response: Response;
    try {
      response = await transport.stream({
        method: 'GET',
        path,
        idempotent: true,
        headers: { accept: 'text/event-stream', ...(parser.lastEventId ? { 'last-event-id': parser.lastEventId } : {}) },
        signal,
      });
    } catch (error) {
      if (options.signal?.aborted) return;
      throw error;
    }
    // 204: the server says there is nothing (more) to stream, and not to reconnect.
    if (response.status === 204) return;
    const contentType = response.headers.get('content-type') ?? '';
    if (!contentType.startsWith('text/event-stream') || !response.body) {
      await response.body?.cancel();
      throw new InferqError(CLIENT_ERROR_CODES.UNEXPECTED_RESPONSE, `expected text/event-stream from /${path}, got ${contentType || 'no content type'}`, { status: response.status });
    }
    const decoder = new TextDecoder();
    let gotEvent = false;
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        for (const sse of parser.push(decoder.decode(chunk, { stream: true }))) {
          const event: StreamEvent<T> = { type: sse.type, id: sse.lastEventId, data: parseData(sse.data) as T };
          gotEvent = true;
          reconnects = 0;
          yield event;
          if (isTerminalEvent(event)) return;
        }
      }
    } catch (error) {
      if (options.signal?.aborted) return;
      // A connection cut mid-stream: reconnect below, as when the server ends it early.
      if (error instanceof InferqError) throw error;
    } finally {
      local.abort();
    }
    if (!gotEvent && ++reconnects > maxReconnects) {
      throw new InferqUnavailableError(CLIENT_ERROR_CODES.STREAM_INTERRUPTED, `the event stream /${path} kept ending before its terminal event`);
    }
    try {
      await sleep(parser.retryMs ?? retryDelayMs(Math.max(1, reconnects), undefined, policy), options.signal);
    } catch {
      return;
    }
  }
}

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { InferqNotFoundError, InferqUnavailableError } from '../../packages/client/src/client-errors.ts';
import { InferqClient } from '../../packages/client/src/inferq-client.ts';
import { ServerSentEventParser, type ServerSentEvent } from '../../packages/client/src/sse-parser.ts';
import { json, startScriptedServer, type ScriptedServer } from '../support/scripted-server.ts';

const job = (status: string) => ({ job_id: 'fraud-risk.01J', status, model: 'fraud-risk' });
const sse = (id: number, type: string, data: unknown) => `id: ${id}\nevent: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
const SSE_HEADERS = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' };

function parseAll(chunks: string[]): { events: ServerSentEvent[]; parser: ServerSentEventParser } {
  const parser = new ServerSentEventParser();
  return { events: chunks.flatMap((c) => parser.push(c)), parser };
}

describe('SSE parser (WHATWG event stream rules)', () => {
  const stream = ': heartbeat\r\nretry: 1500\r\nid: 7\r\nevent: running\r\ndata: {"a":\r\ndata:  1}\r\n\r\ndata: no type\r\r: comment\nid\nevent: x\ndata\n\nid: 9\u0000\ndata: after\n\nevent: partial\ndata: dropped at the end';
  const expected: ServerSentEvent[] = [
    { type: 'running', data: '{"a":\n 1}', lastEventId: '7' },
    { type: 'message', data: 'no type', lastEventId: '7' },
    { type: 'x', data: '', lastEventId: '' },
    { type: 'message', data: 'after', lastEventId: '' },
  ];

  test('fields, comments, CRLF/CR/LF line ends, id persistence and reset, retry; a partial event at the end is dropped', () => {
    const { events, parser } = parseAll([stream]);
    assert.deepEqual(events, expected);
    assert.equal(parser.retryMs, 1500);
  });

  test('the same events however the stream is cut into chunks (a CRLF split across two included)', () => {
    for (let cut = 1; cut < stream.length; cut++) {
      assert.deepEqual(parseAll([stream.slice(0, cut), stream.slice(cut)]).events, expected, `cut at ${cut}`);
    }
    assert.deepEqual(parseAll([...stream]).events, expected, 'one character at a time');
  });

  test('retry takes digits only; an event with no data is not dispatched', () => {
    const { events, parser } = parseAll(['retry: 2s\nevent: empty\n\nretry:300\n\n']);
    assert.deepEqual(events, []);
    assert.equal(parser.retryMs, 300);
  });
});

describe('client.events against an SSE server', () => {
  const servers: ScriptedServer[] = [];
  after(() => Promise.all(servers.map((s) => s.close())));
  const start = async (...args: Parameters<typeof startScriptedServer>) => {
    const server = await startScriptedServer(...args);
    servers.push(server);
    return server;
  };

  test('a dropped stream is resumed with Last-Event-ID and nothing is missed; the terminal event ends it', async () => {
    const server = await start((_req, res, index, seen) => {
      res.writeHead(200, SSE_HEADERS);
      if (index === 0) {
        // The connection drops (no end of the chunked body) once the first two events are out.
        res.write(`retry: 10\n: heartbeat\n\n${sse(1, 'queued', job('queued'))}${sse(2, 'running', job('running'))}`, () => res.socket?.destroy());
      } else {
        // Resumed after event 2: only what came later. The connection is then held open, so only
        // the terminal event can end the client's loop.
        assert.equal(seen.headers['last-event-id'], '2');
        res.write(sse(3, 'succeeded', { ...job('succeeded'), result: { label: 'legit' } }));
      }
    });
    const client = new InferqClient({ baseUrl: server.baseUrl });
    const events = [];
    for await (const event of client.events('fraud-risk.01J')) events.push(event);
    assert.deepEqual(events.map((e) => [e.id, e.type, e.data.status]), [['1', 'queued', 'queued'], ['2', 'running', 'running'], ['3', 'succeeded', 'succeeded']]);
    assert.deepEqual((events[2]?.data as { result?: unknown } | undefined)?.result, { label: 'legit' });
    assert.deepEqual(server.requests.map((r) => [r.url, r.headers.accept, r.headers['last-event-id']]), [
      ['/v1/jobs/fraud-risk.01J/events', 'text/event-stream', undefined],
      ['/v1/jobs/fraud-risk.01J/events', 'text/event-stream', '2'],
    ]);
  });

  test('a batch stream: progress events with counts, ended by the final state; lastEventId resumes from the start', async () => {
    const batch = (status: string, done: number) => ({ batch_id: 'batch-1', status, total: 4, succeeded: done, failed: 0, canceled: 0, percent: done * 25 });
    const server = await start((_req, res) => {
      res.writeHead(200, SSE_HEADERS);
      res.write(sse(5, 'progress', batch('running', 2)) + sse(6, 'progress', batch('running', 3)) + sse(7, 'batch.completed', batch('succeeded', 4)));
    });
    const client = new InferqClient({ baseUrl: server.baseUrl });
    const seen = [];
    for await (const event of client.batches.events('batch-1', { lastEventId: '4' })) seen.push(`${event.type}:${event.data.succeeded}`);
    assert.deepEqual(seen, ['progress:2', 'progress:3', 'batch.completed:4']);
    assert.equal(server.requests[0]?.url, '/v1/batches/batch-1/events');
    assert.equal(server.requests[0]?.headers['last-event-id'], '4');
  });

  test('the stream cap (503 + Retry-After) is waited out; leaving the loop early closes the connection', async () => {
    const server = await start((_req, res, index) => {
      if (index === 0) return json(res, 503, { error: { code: 'TOO_MANY_STREAMS', message: 'stream cap' } }, { 'retry-after': '0' });
      res.writeHead(200, SSE_HEADERS);
      res.write(sse(1, 'queued', job('queued')));
    });
    const client = new InferqClient({ baseUrl: server.baseUrl, retryBaseDelayMs: 1 });
    for await (const event of client.events('fraud-risk.01J')) {
      assert.equal(event.type, 'queued');
      break;
    }
    assert.equal(server.requests.length, 2);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(server.closedByClient, 1, 'the held stream was closed by the client');
  });

  test('an unknown job is InferqNotFoundError; a stream that keeps ending empty is STREAM_INTERRUPTED', async () => {
    const missing = await start((_req, res) => json(res, 404, { error: { code: 'JOB_NOT_FOUND', message: 'no such job' } }));
    await assert.rejects(async () => {
      for await (const _ of new InferqClient({ baseUrl: missing.baseUrl }).events('nope')) assert.fail('no event expected');
    }, (error: unknown) => error instanceof InferqNotFoundError && error.code === 'JOB_NOT_FOUND' && error.status === 404);

    const empty = await start((_req, res) => {
      res.writeHead(200, SSE_HEADERS);
      res.end(': nothing\n\n');
    });
    await assert.rejects(async () => {
      for await (const _ of new InferqClient({ baseUrl: empty.baseUrl, maxRetries: 2, retryBaseDelayMs: 1 }).events('x')) assert.fail('no event expected');
    }, (error: unknown) => error instanceof InferqUnavailableError && error.code === 'STREAM_INTERRUPTED');
    assert.equal(empty.requests.length, 3, 'the first try and two reconnections');
  });
});

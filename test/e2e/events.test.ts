import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Queue } from 'bullmq';
import { InferqClient } from '../../packages/client/src/inferq-client.ts';
import type { StreamEvent } from '../../packages/client/src/event-stream.ts';
import type { BatchView, JobView } from '../../packages/client/src/api-types.ts';
import { InferqNotFoundError } from '../../packages/client/src/client-errors.ts';
import { freePort } from '../../scripts/lib/local-redis.ts';
import { SAFE_TRANSACTION, wideMlpInput } from '../support/http.ts';
import { startRoundRobinProxy, type RoundRobinProxy } from '../support/round-robin-proxy.ts';
import { startService, startStack, type ServiceProcess, type Stack } from '../support/services.ts';

const ACME = 'key-acme-7f3a9c';
const GLOBEX = 'key-globex-81c2d4';

/** Reads a raw event stream until `done` says the text so far is enough; then drops the connection. */
async function readStream(res: Response, done: (text: string) => boolean): Promise<string> {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let text = '';
  while (!done(text)) {
    const { value, done: ended } = await reader.read();
    if (ended) break;
    text += decoder.decode(value, { stream: true });
  }
  await reader.cancel();
  return text;
}

// Two API replicas (B capped at one held stream, with a quick heartbeat) behind a round-robin
// proxy, one worker for fraud-risk and wide-mlp. The wide-mlp queue is paused while a test opens
// its stream, so the first state it sees is `queued`, and resumed to let the job run.
describe('Server-Sent Events: jobs and batches, across replicas', () => {
  let stack: Stack;
  let apiB: ServiceProcess;
  let baseUrlB: string;
  let proxy: RoundRobinProxy;
  let wideMlp: Queue;
  let acme: InferqClient;

  before(async () => {
    stack = await startStack({
      env: { INFERQ_API_KEYS: `acme:${ACME},globex:${GLOBEX}`, INFERQ_BATCH_CHUNK_ROWS: '2' },
      workerEnv: { INFERQ_MODELS: 'fraud-risk,wide-mlp' },
    });
    const portB = await freePort();
    apiB = await startService('api', { env: { ...stack.env, PORT: String(portB), INFERQ_MAX_HELD_EVENT_STREAMS: '1', INFERQ_EVENT_HEARTBEAT_MS: '200' } });
    baseUrlB = `http://127.0.0.1:${portB}`;
    proxy = await startRoundRobinProxy([stack.baseUrl, baseUrlB]);
    wideMlp = stack.redis.queue('model-{wide-mlp}');
    acme = new InferqClient({ baseUrl: proxy.url, apiKey: ACME, retryBaseDelayMs: 50 });
  });
  after(async () => {
    await wideMlp.close();
    await proxy.close();
    await apiB.stop('SIGKILL');
    await stack.stop();
  });

  test('a job streamed from submit to result: queued, running, then the finished job as GET returns it', async () => {
    await wideMlp.pause();
    const { job_id } = await acme.submit({ model: 'wide-mlp', inputs: wideMlpInput(3) });
    const events: StreamEvent<JobView>[] = [];
    for await (const event of acme.events(job_id)) {
      events.push(event);
      if (events.length === 1) await wideMlp.resume();
    }
    assert.deepEqual(events.map((e) => [e.id, e.type, e.data.status]), [['1', 'queued', 'queued'], ['2', 'running', 'running'], ['3', 'succeeded', 'succeeded']]);
    const [queued, running, finished] = events.map((e) => e.data) as [JobView, JobView, JobView];
    assert.equal(queued.started_at, null);
    assert.equal(running.job_id, job_id);
    assert.ok(running.started_at, 'running carries started_at');
    assert.deepEqual(finished, await acme.get(job_id), 'the final event is the job as GET returns it');
    assert.equal((finished as { result: { outputs: { shape: number[] }[] } }).result.outputs[0]?.shape[0], 3);
  });

  test("a batch's progress events carry its counts, and the stream ends at its end", async () => {
    await wideMlp.pause();
    const rows = Array.from({ length: 10 }, (_, i) => `${JSON.stringify({ id: `r${i}`, inputs: wideMlpInput(1, i / 10) })}\n`);
    const { batch_id } = await acme.batches.upload(rows.values(), { model: 'wide-mlp' });
    const events: StreamEvent<BatchView>[] = [];
    for await (const event of acme.batches.events(batch_id)) {
      events.push(event);
      if (events.length === 1) await wideMlp.resume();
    }
    const first = events[0] as StreamEvent<BatchView>;
    const last = events.at(-1) as StreamEvent<BatchView>;
    assert.equal(first.type, 'progress');
    assert.equal(first.data.status, 'queued');
    assert.deepEqual([first.data.total, first.data.succeeded, first.data.pending, first.data.percent], [10, 0, 10, 0]);
    assert.equal(last.type, 'succeeded');
    assert.deepEqual([last.data.succeeded, last.data.failed, last.data.pending, last.data.percent], [10, 0, 0, 100]);
    for (const [i, event] of events.entries()) {
      const { total, succeeded, failed, canceled, pending } = event.data;
      assert.equal(succeeded + failed + canceled + pending, total, 'counts add up');
      assert.equal(event.type === 'progress', i < events.length - 1, 'only the last event is final');
      if (i > 0) {
        const previous = events[i - 1] as StreamEvent<BatchView>;
        assert.ok(Number(event.id) > Number(previous.id), 'ids grow');
        assert.ok(event.data.percent >= previous.data.percent, 'percent never goes back');
      }
    }
    // As GET returns it (expires_at is worked out at each read, from the key's TTL).
    const { expires_at: _streamed, ...streamed } = last.data;
    const { expires_at: _read, ...read } = await acme.batches.get(batch_id);
    assert.deepEqual(streamed, read);
    // A client that saw the first event and comes back gets the end alone; one that saw the end, nothing (204).
    assert.deepEqual((await collect(acme.batches.events(batch_id, { lastEventId: first.id }))).map((e) => e.type), ['succeeded']);
    assert.deepEqual(await collect(acme.batches.events(batch_id, { lastEventId: last.id })), []);
  });

  test('Last-Event-ID resumes after the event the client saw: the steps it missed, then the end; after the end, 204', async () => {
    const { job_id } = await acme.submit({ model: 'fraud-risk', features: SAFE_TRANSACTION });
    const finished = await acme.wait(job_id);
    const resumed = await collect(acme.events(job_id, { lastEventId: '1' }));
    assert.deepEqual(resumed.map((e) => [e.id, e.type]), [['2', 'running'], ['3', 'succeeded']]);
    assert.equal(resumed[0]?.data.started_at, finished.started_at, 'the missed running step is rebuilt as GET showed it');
    assert.deepEqual(resumed[1]?.data, finished);
    const fresh = await collect(acme.events(job_id));
    assert.deepEqual(fresh.map((e) => [e.id, e.type]), [['3', 'succeeded']], 'a fresh stream starts at the current state');
    const done = await fetch(`${stack.baseUrl}/v1/jobs/${job_id}/events`, { headers: { authorization: `Bearer ${ACME}`, 'last-event-id': '3' } });
    assert.equal(done.status, 204);
  });

  test("another tenant's job or batch is a 404, like an id that never existed", async () => {
    const { job_id } = await acme.submit({ model: 'fraud-risk', features: SAFE_TRANSACTION });
    const { batch_id } = await acme.batches.upload([`${JSON.stringify({ features: SAFE_TRANSACTION })}\n`].values(), { model: 'fraud-risk' });
    const globex = new InferqClient({ baseUrl: proxy.url, apiKey: GLOBEX });
    await assert.rejects(collect(globex.events(job_id)), (error: unknown) => error instanceof InferqNotFoundError && error.code === 'JOB_NOT_FOUND');
    await assert.rejects(collect(globex.batches.events(batch_id)), (error: unknown) => error instanceof InferqNotFoundError && error.code === 'BATCH_NOT_FOUND');
    await assert.rejects(collect(acme.events('fraud-risk.01M87MDTB3PNGHXNGA8VGPR9WMQ4Z8KD')), InferqNotFoundError);
    const unauthenticated = await fetch(`${stack.baseUrl}/v1/jobs/${job_id}/events`);
    assert.equal(unauthenticated.status, 401);
  });

  test('past INFERQ_MAX_HELD_EVENT_STREAMS a stream is refused 503 with Retry-After; a held stream sends heartbeats', async () => {
    await wideMlp.pause();
    const { job_id } = await acme.submit({ model: 'wide-mlp', inputs: wideMlpInput(1) });
    const headers = { authorization: `Bearer ${ACME}`, accept: 'text/event-stream' };
    const held = await fetch(`${baseUrlB}/v1/jobs/${job_id}/events`, { headers });
    assert.equal(held.status, 200);
    assert.match(held.headers.get('content-type') ?? '', /^text\/event-stream/);
    const refused = await fetch(`${baseUrlB}/v1/jobs/${job_id}/events`, { headers });
    assert.equal(refused.status, 503);
    assert.ok(Number(refused.headers.get('retry-after')) > 0, 'Retry-After says when to come back');
    assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'EVENT_STREAMS_FULL');
    // The held stream: the queued state at once, then a heartbeat comment while nothing happens.
    const text = await readStream(held, (t) => t.includes(': heartbeat\n'));
    assert.match(text, /^event: queued\ndata: \{.*"status":"queued".*\}\nid: 1\n\n/);
    assert.match(text, /\n: heartbeat\n/);
    await wideMlp.resume();
    await acme.wait(job_id);
    // Its slot is free again once the client has gone (a client that comes too early waits out the Retry-After).
    const onB = new InferqClient({ baseUrl: baseUrlB, apiKey: ACME });
    assert.deepEqual((await collect(onB.events(job_id))).map((e) => e.type), ['succeeded']);
  });

  test('2 replicas behind one client: the stream moves to the other replica when its own stops, and misses nothing', async () => {
    await wideMlp.pause();
    const { job_id } = await acme.submit({ model: 'wide-mlp', inputs: wideMlpInput(2) });
    const events: StreamEvent<JobView>[] = [];
    const streamPath = `/v1/jobs/${job_id}/events`;
    for await (const event of acme.events(job_id)) {
      events.push(event);
      if (events.length === 1) {
        // Stop whichever replica holds the stream: it ends the stream as it stops, and the client reconnects.
        const holder = proxy.requests.filter((r) => r.path === streamPath).at(-1)?.backend;
        await (holder === baseUrlB ? apiB : stack.api).stop('SIGTERM');
        await wideMlp.resume();
      }
    }
    assert.deepEqual(events.map((e) => [e.id, e.type]), [['1', 'queued'], ['2', 'running'], ['3', 'succeeded']]);
    const streams = proxy.requests.filter((r) => r.path === streamPath);
    assert.equal(new Set(streams.map((r) => r.backend)).size, 2, 'each replica held the stream in turn');
    assert.equal(streams.at(-1)?.lastEventId, '1', 'the reconnect resumed after the event seen');
    assert.deepEqual(events[2]?.data, await acme.get(job_id));
  });
});

async function collect<T>(events: AsyncIterable<StreamEvent<T>>): Promise<StreamEvent<T>[]> {
  const out: StreamEvent<T>[] = [];
  for await (const event of events) out.push(event);
  return out;
}

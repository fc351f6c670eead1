/**
 * The prediction log end to end, with real Redis, API and worker processes.
 *
 * Scale: the issue asks for 100,000 single jobs and a 100,000-row batch; on the shared 2-core CI
 * machine this test runs JOBS single jobs (default 10,000, PREDICTION_TEST_JOBS to change) and a
 * batch of as many rows. bench/prediction-log.ts runs the 100,000 figure (`npm run bench:prediction-log`, on a quiet machine).
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import type { Redis } from '../../packages/core/src/redis-connection.ts';
import { InferqClient } from '../../packages/client/src/inferq-client.ts';
import { request } from '../support/http.ts';
import { compiledEnv, REPO_ROOT, startStack, testModelDir, type Stack } from '../support/services.ts';

const JOBS = Number(process.env.PREDICTION_TEST_JOBS ?? 10_000);
const SINGLE_POSTS = 200;
const A = { authorization: 'Bearer key-aaaaaaaa' };
const B = { authorization: 'Bearer key-bbbbbbbb' };
const ADMIN = { authorization: 'Bearer admin-key-cccccccc' };

/** A seeded uniform in [-1, 1), so every run sends the same features. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return (2 * s) / 0x1_0000_0000 - 1;
  };
}

/** The scorer's true label: "yes" when x > 0 (version 1 predicts it, version 2 the opposite). */
const truth = (x: number) => (x > 0 ? 'yes' : 'no');

interface Exported {
  id: string;
  job_id?: string;
  batch_id?: string;
  row?: number;
  tenant: string;
  routing_key?: string;
  version: string;
  status: string;
  error_code?: string;
  prediction?: { probability: number; label: string };
  inputs?: { x: number; y: number };
  label?: unknown;
  labeled_at?: string;
  logged_at: string;
  cursor: string;
}

/** Every page of an export, following Inferq-Cursor while Inferq-More says so. */
async function exportAll(baseUrl: string, query: string, headers: Record<string, string>): Promise<Exported[]> {
  const all: Exported[] = [];
  let cursor: string | undefined;
  for (;;) {
    const res = await fetch(`${baseUrl}/v1/predictions?${query}&limit=10000${cursor ? `&cursor=${cursor}` : ''}`, { headers });
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal(res.headers.get('content-type'), 'application/x-ndjson');
    const text = await res.text();
    for (const line of text.split('\n')) if (line) all.push(JSON.parse(line) as Exported);
    cursor = res.headers.get('inferq-cursor') ?? cursor;
    if (res.headers.get('inferq-more') !== 'true') return all;
  }
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 240_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function scorerDir(): string {
  return testModelDir({ scorer: path.join(REPO_ROOT, 'test/fixtures/models/scorer') });
}

describe(`prediction log: ${JOBS} single jobs and a ${JOBS}-row batch`, () => {
  let stack: Stack;
  let redis: Redis;
  const features = new Map<string, { x: number; y: number }>();
  const aJobs: string[] = [];
  const bJobs: string[] = [];
  const keyed = new Map<string, string>();
  let batchId = '';
  let aLogged: Exported[] = [];

  before(async () => {
    stack = await startStack({
      env: {
        INFERQ_MODEL_DIR: scorerDir(),
        INFERQ_API_KEYS: 'tenant-a:key-aaaaaaaa,tenant-b:key-bbbbbbbb',
        INFERQ_ADMIN_KEYS: 'admin-key-cccccccc',
        INFERQ_BATCH_CHUNK_ROWS: '500',
        INFERQ_MAX_QUEUE_DEPTH: String(JOBS * 4),
      },
      workerEnv: { INFERQ_MODELS: 'scorer' },
    });
    redis = stack.redis.connect();
    const random = prng(15);
    const body = (i: number) => {
      const f = { x: random(), y: random() };
      return { f, body: { model: 'scorer', version: '1', features: f, ...(i % 10 === 0 ? { routing_key: `order-${i}` } : {}), ...(i % 7 === 0 ? { ttl_seconds: 1 } : {}) } };
    };
    // Single submits, a few at a time, then the rest in bulk calls (each still a job of its own).
    for (let i = 0; i < SINGLE_POSTS; i += 20) {
      await Promise.all(
        Array.from({ length: 20 }, async (_, k) => {
          const { f, body: b } = body(i + k);
          const res = await request(stack.baseUrl, 'POST', '/v1/jobs', b, A);
          assert.equal(res.status, 202, JSON.stringify(res.body));
          aJobs.push(res.body.job_id);
          features.set(res.body.job_id, f);
          if (b.routing_key) keyed.set(res.body.job_id, b.routing_key);
        }),
      );
    }
    for (let i = SINGLE_POSTS; i < JOBS; i += 1000) {
      const made = Array.from({ length: Math.min(1000, JOBS - i) }, (_, k) => body(i + k));
      const res = await request(stack.baseUrl, 'POST', '/v1/jobs/bulk', { jobs: made.map((m) => m.body) }, A);
      assert.equal(res.status, 202);
      res.body.jobs.forEach((j: { job_id: string }, k: number) => {
        aJobs.push(j.job_id);
        features.set(j.job_id, (made[k] as { f: { x: number; y: number } }).f);
        const key = (made[k] as { body: { routing_key?: string } }).body.routing_key;
        if (key) keyed.set(j.job_id, key);
      });
    }
    for (let i = 0; i < 50; i++) {
      const res = await request(stack.baseUrl, 'POST', '/v1/jobs', { model: 'scorer', version: '1', features: { x: 0.5, y: 0.5 } }, B);
      bJobs.push(res.body.job_id);
    }
    // A batch with two bad rows: they are logged too, failed, with their code.
    const rows = Array.from({ length: JOBS }, (_, r) => (r === 3 || r === JOBS - 1 ? { features: { x: 1 } } : { features: { x: random(), y: random() } }));
    const batch = await fetch(`${stack.baseUrl}/v1/batches?model=scorer&version=1`, { method: 'POST', headers: { ...A, 'content-type': 'application/x-ndjson' }, body: rows.map((r) => JSON.stringify(r)).join('\n') });
    assert.equal(batch.status, 202);
    batchId = ((await batch.json()) as { batch_id: string }).batch_id;
    const expected = aJobs.length + bJobs.length + JOBS;
    await waitFor(`${expected} logged predictions`, async () => (await redis.xlen('inferq:predictions:{scorer}')) >= expected);
    aLogged = await exportAll(stack.baseUrl, 'model=scorer', A);
  });
  after(async () => {
    redis?.disconnect();
    await stack?.stop();
  });

  test('every job and every batch row is in the log exactly once, with its inputs and prediction', async () => {
    const ids = aLogged.map((p) => p.id);
    const twice = aLogged.filter((p, i) => ids.indexOf(p.id) !== i);
    assert.deepEqual(twice.map((p) => p.id), [], `logged twice: ${JSON.stringify(twice.slice(0, 3))}`);
    const expected = new Set([...aJobs, ...Array.from({ length: JOBS }, (_, r) => `${batchId}:${r}`)]);
    assert.equal(ids.length, expected.size);
    assert.deepEqual(new Set(ids), expected);
    assert.equal(await redis.xlen('inferq:predictions:{scorer}'), expected.size + bJobs.length, 'nothing else was logged');
    for (const p of aLogged.filter((p) => p.job_id).slice(0, 500)) {
      const f = features.get(p.id) as { x: number; y: number };
      assert.equal(p.tenant, 'tenant-a');
      assert.equal(p.status, 'succeeded');
      assert.ok(Math.abs((p.inputs?.x as number) - f.x) < 1e-6 && Math.abs((p.inputs?.y as number) - f.y) < 1e-6, `${p.id} inputs`);
      // Version 1 answers sigmoid(8x) >= 0.5, i.e. "yes" exactly when x >= 0.
      if (Math.abs(f.x) > 1e-6) assert.equal(p.prediction?.label, truth(f.x), `${p.id} prediction`);
      assert.equal(p.routing_key, keyed.get(p.id));
    }
    const failedRows = aLogged.filter((p) => p.batch_id && p.status === 'failed');
    assert.deepEqual(failedRows.map((p) => p.row).sort((a, b) => (a as number) - (b as number)), [3, JOBS - 1]);
    assert.ok(failedRows.every((p) => p.error_code === 'FEATURE_MISSING' && p.prediction === undefined));
  });

  test('filters: status, version, time range and paging return exactly the matching predictions', async () => {
    const failed = await exportAll(stack.baseUrl, 'model=scorer&status=failed', A);
    assert.deepEqual(failed.map((p) => p.id).sort(), aLogged.filter((p) => p.status === 'failed').map((p) => p.id).sort());
    assert.equal((await exportAll(stack.baseUrl, 'model=scorer&version=2', A)).length, 0);
    const middle = aLogged[Math.floor(aLogged.length / 2)] as Exported;
    const until = await exportAll(stack.baseUrl, `model=scorer&until=${encodeURIComponent(middle.logged_at)}`, A);
    const since = await exportAll(stack.baseUrl, `model=scorer&since=${Date.parse(middle.logged_at) + 1}`, A);
    assert.equal(until.length + since.length, aLogged.length, 'the two halves partition the log');
    assert.ok(until.every((p) => p.logged_at <= middle.logged_at) && since.every((p) => p.logged_at > middle.logged_at));
    // Small pages, resumed by cursor, give the same predictions in the same order.
    const paged: string[] = [];
    let cursor = '';
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${stack.baseUrl}/v1/predictions?model=scorer&limit=7${cursor ? `&cursor=${cursor}` : ''}`, { headers: A });
      paged.push(...(await res.text()).split('\n').filter(Boolean).map((l) => (JSON.parse(l) as Exported).id));
      cursor = res.headers.get('inferq-cursor') as string;
      assert.equal(res.headers.get('inferq-more'), 'true');
    }
    assert.deepEqual(paged, aLogged.slice(0, 35).map((p) => p.id));
    const csv = await fetch(`${stack.baseUrl}/v1/predictions?model=scorer&limit=10`, { headers: { ...A, accept: 'text/csv' } });
    const lines = (await csv.text()).trim().split('\n');
    assert.match(lines[0] as string, /^logged_at,cursor,id,job_id,/);
    assert.equal(lines.length, 11);
  });

  test('another tenant sees none of them; the admin scope sees every tenant', async () => {
    const theirs = await exportAll(stack.baseUrl, 'model=scorer', B);
    assert.deepEqual(theirs.map((p) => p.id).sort(), [...bJobs].sort());
    const stolen = await request(stack.baseUrl, 'POST', '/v1/labels', { job_id: aJobs[0], label: 'yes' }, B);
    assert.equal(stolen.status, 404);
    assert.equal(stolen.body.error.code, 'PREDICTION_NOT_FOUND');
    const all = await exportAll(stack.baseUrl, 'model=scorer', ADMIN);
    assert.equal(all.length, aLogged.length + bJobs.length);
    assert.equal((await exportAll(stack.baseUrl, 'model=scorer&tenant=tenant-b', ADMIN)).length, bJobs.length);
  });

  test('labels join exactly; repeats are no-ops; rejects carry clear codes', async () => {
    const labelled = new Map<string, string>();
    // By job id, NDJSON in bulk: every 5th job (a tenth of them had a 1 s result TTL: long expired by now).
    const byJob = aJobs.filter((_, i) => i % 5 === 0);
    const expired = byJob.filter((id) => aLogged.find((p) => p.id === id)).slice(0, 40);
    const gone = await Promise.all(expired.map(async (id) => (await request(stack.baseUrl, 'GET', `/v1/jobs/${id}`, undefined, A)).status));
    assert.ok(gone.includes(404), 'some labelled jobs arrive after their result expired');
    assert.ok(gone.includes(200), 'and some while it is still there');
    const ndjson = byJob.map((id) => JSON.stringify({ job_id: id, label: truth((features.get(id) as { x: number }).x) })).join('\n');
    const bulk = await fetch(`${stack.baseUrl}/v1/labels`, { method: 'POST', headers: { ...A, 'content-type': 'application/x-ndjson' }, body: ndjson });
    const bulkBody = (await bulk.json()) as { stored: number; unchanged: number; rejected: number };
    assert.equal(bulk.status, 200);
    assert.deepEqual({ stored: bulkBody.stored, unchanged: bulkBody.unchanged, rejected: bulkBody.rejected }, { stored: byJob.length, unchanged: 0, rejected: 0 });
    for (const id of byJob) labelled.set(id, truth((features.get(id) as { x: number }).x));
    // By routing key and time, one at a time.
    const logged = new Map(aLogged.map((p) => [p.id, p]));
    const keyedJobs = [...keyed].filter(([id]) => !labelled.has(id)).slice(0, 20);
    for (const [id, key] of keyedJobs) {
      const res = await request(stack.baseUrl, 'POST', '/v1/labels', { model: 'scorer', routing_key: key, at: logged.get(id)?.logged_at, label: 'yes' }, A);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.prediction_id, id);
      labelled.set(id, 'yes');
    }
    // Batch rows.
    for (const row of [0, 1, 2]) {
      const res = await request(stack.baseUrl, 'POST', '/v1/labels', { model: 'scorer', batch_id: batchId, row, label: 'no' }, A);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      labelled.set(`${batchId}:${row}`, 'no');
    }
    // The same label twice: a no-op. Another label: a conflict, the first stays.
    const first = byJob[0] as string;
    const again = await request(stack.baseUrl, 'POST', '/v1/labels', { job_id: first, label: labelled.get(first) }, A);
    assert.deepEqual([again.status, again.body.status], [200, 'unchanged']);
    const other = labelled.get(first) === 'yes' ? 'no' : 'yes';
    const conflict = await request(stack.baseUrl, 'POST', '/v1/labels', { job_id: first, label: other }, A);
    assert.deepEqual([conflict.status, conflict.body.error.code, conflict.body.error.details.label], [409, 'LABEL_CONFLICT', labelled.get(first)]);
    // An unknown id, a label that is not a class, a bad row: each rejected alone in a bulk call.
    const unknown = `scorer.01M87MDTB3PNGHXNGA8VGPR9WM${first.slice(-6)}`;
    const mixed = [JSON.stringify({ job_id: unknown, label: 'yes' }), JSON.stringify({ job_id: aJobs[1], label: 'maybe' }), '{"label": "yes"}', JSON.stringify({ job_id: first, label: labelled.get(first) })].join('\n');
    const res = await fetch(`${stack.baseUrl}/v1/labels`, { method: 'POST', headers: { ...A, 'content-type': 'application/x-ndjson' }, body: mixed });
    const body = (await res.json()) as { results: { row: number; status?: string; error?: { code: string } }[] };
    assert.deepEqual(body.results.map((r) => r.error?.code ?? r.status), ['PREDICTION_NOT_FOUND', 'LABEL_INVALID', 'INVALID_REQUEST', 'unchanged']);
    // The export joins exactly these labels, and has_label filters on them.
    const withLabels = await exportAll(stack.baseUrl, 'model=scorer&has_label=true', A);
    assert.deepEqual(new Map(withLabels.map((p) => [p.id, p.label])), labelled);
    assert.ok(withLabels.every((p) => typeof p.labeled_at === 'string'));
    const without = await exportAll(stack.baseUrl, 'model=scorer&has_label=false', A);
    assert.equal(without.length, aLogged.length - labelled.size);
  });

  test('@inferq/client and `inferq predictions export --output` give the same predictions as the API', async () => {
    const client = new InferqClient({ baseUrl: stack.baseUrl, apiKey: 'key-aaaaaaaa' });
    const fromClient: string[] = [];
    for await (const p of client.predictions.export({ model: 'scorer', pageSize: 997 })) fromClient.push(p.id);
    assert.deepEqual(fromClient, aLogged.map((p) => p.id));
    const labelled = await client.predictions.label([{ job_id: aJobs[2] as string, label: 'yes' }, { job_id: 'scorer.nope', label: 'yes' }]);
    assert.deepEqual(labelled.results.map((r) => ('error' in r ? r.error.code : r.status)), [labelled.results[0] && 'status' in labelled.results[0] ? labelled.results[0].status : 'missing', 'PREDICTION_NOT_FOUND']);
    assert.ok(['stored', 'unchanged'].includes((labelled.results[0] as { status: string }).status));

    const dir = mkdtempSync(path.join(os.tmpdir(), 'inferq-predictions-'));
    const cli = (args: string[]) =>
      new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [path.join(REPO_ROOT, 'packages/cli/bin/inferq.mjs'), ...args, '--url', stack.baseUrl], { env: { ...compiledEnv(), INFERQ_API_KEY: 'key-aaaaaaaa' }, stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        child.stderr.on('data', (d) => (stderr += d));
        child.on('exit', (code) => resolve({ code, stderr }));
      });
    const ndjson = path.join(dir, 'predictions.ndjson');
    const run = await cli(['predictions', 'export', '--model', 'scorer', '--status', 'succeeded', '--output', ndjson]);
    assert.equal(run.code, 0, run.stderr);
    const exported = readFileSync(ndjson, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as Exported).id);
    assert.deepEqual(exported, aLogged.filter((p) => p.status === 'succeeded').map((p) => p.id));
    const cursor = /cursor: (\S+)/.exec(run.stderr)?.[1];
    const [last] = (await redis.xrevrange('inferq:predictions:{scorer}', '+', '-', 'COUNT', 1)) as [string, string[]][];
    assert.equal(cursor, last?.[0], 'the cursor is the last entry read: a later export resumes after it');
    const csv = path.join(dir, 'failed.csv');
    assert.equal((await cli(['predictions', 'export', '--model', 'scorer', '--status', 'failed', '--output', csv])).code, 0);
    const rows = readFileSync(csv, 'utf8').trim().split('\n');
    assert.match(rows[0] as string, /^logged_at,/);
    assert.equal(rows.length - 1, aLogged.filter((p) => p.status === 'failed').length);
  });

  test('Redis bytes per logged prediction (MEMORY USAGE of the stream / entries)', async () => {
    const entries = await redis.xlen('inferq:predictions:{scorer}');
    const bytes = (await redis.call('MEMORY', 'USAGE', 'inferq:predictions:{scorer}', 'SAMPLES', '0')) as number;
    const perEntry = bytes / entries;
    let indexed = 0;
    let indexBytes = 0;
    for (const key of await redis.keys('inferq:prediction-index:{scorer}:*')) {
      indexed += await redis.hlen(key);
      indexBytes += Number(await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0'));
    }
    console.log(`prediction log: ${entries} entries, ${bytes} bytes, ${perEntry.toFixed(1)} bytes per logged prediction; label index ${(indexBytes / indexed).toFixed(1)} bytes per prediction`);
    assert.ok(perEntry > 50 && perEntry < 1000, `${perEntry} bytes per entry`);
    assert.equal(indexed, entries, 'every logged prediction is indexed for labels');
  });
});

describe('quality, drift and the label guardrail on a canary made worse on purpose', () => {
  let stack: Stack;
  let redis: Redis;
  const WINDOW = 300;
  const random = prng(99);

  /** Submits jobs and waits until each has been logged; returns their ids and x values. */
  async function score(n: number, body: (x: number, y: number) => Record<string, unknown>): Promise<{ id: string; x: number }[]> {
    const before = await redis.xlen('inferq:predictions:{scorer}');
    const made = Array.from({ length: n }, () => {
      const x = random();
      return { x, body: { model: 'scorer', ...body(x, random()) } };
    });
    const res = await request(stack.baseUrl, 'POST', '/v1/jobs/bulk', { jobs: made.map((m) => m.body) });
    assert.equal(res.status, 202);
    await waitFor(`${n} more predictions`, async () => (await redis.xlen('inferq:predictions:{scorer}')) >= before + n);
    return res.body.jobs.map((j: { job_id: string }, i: number) => ({ id: j.job_id, x: (made[i] as { x: number }).x }));
  }

  const versionOf = async (version: string) => ((await request(stack.baseUrl, 'GET', '/v1/models/scorer')).body.versions as { version: string; quality: any; drift: any }[]).find((v) => v.version === version);

  before(async () => {
    stack = await startStack({
      env: {
        INFERQ_MODEL_DIR: scorerDir(),
        INFERQ_DRIFT_REFERENCE_SIZE: String(WINDOW),
        INFERQ_DRIFT_WINDOW: String(WINDOW),
        INFERQ_GUARDRAIL_INTERVAL_MS: '300',
        INFERQ_METRICS_CACHE_MS: '0',
      },
      workerEnv: { INFERQ_MODELS: 'scorer' },
    });
    redis = stack.redis.connect();
  });
  after(async () => {
    redis?.disconnect();
    await stack?.stop();
  });

  test('drift: shifting one feature shows a PSI above the threshold for that feature only', async () => {
    await score(WINDOW, (x, y) => ({ version: '1', features: { x, y } }));
    const steady = await versionOf('1');
    assert.equal(steady?.drift.reference, 'first_predictions');
    assert.ok(!steady?.drift.features.x.drifted && !steady?.drift.features.y.drifted, JSON.stringify(steady?.drift));
    await score(WINDOW, (x, y) => ({ version: '1', features: { x, y: y + 3 } }));
    const shifted = await versionOf('1');
    assert.equal(shifted?.drift.window_size, WINDOW);
    assert.equal(shifted?.drift.features.x.drifted, false, `x: ${shifted?.drift.features.x.psi}`);
    assert.equal(shifted?.drift.features.y.drifted, true, `y: ${shifted?.drift.features.y.psi}`);
    assert.ok(shifted.drift.features.y.psi > shifted.drift.threshold);
    const metrics = await (await fetch(`${stack.baseUrl}/metrics`)).text();
    assert.match(metrics, /inferq_feature_drift_psi\{model="scorer",version="1",feature="y"\} \d/);
  });

  test('shadow runs are logged beside their primary, marked as such', async () => {
    assert.equal((await request(stack.baseUrl, 'PUT', '/v1/models/scorer/routing', { weights: { '1': 100 }, shadow: '2' })).status, 200);
    const primaries = await score(20, (x, y) => ({ features: { x, y } }));
    await waitFor('the shadow runs', async () => (await redis.xlen('inferq:predictions:{scorer}')) >= 2 * WINDOW + 40);
    const res = await fetch(`${stack.baseUrl}/v1/predictions?model=scorer&shadow=true`);
    const shadows = (await res.text()).split('\n').filter(Boolean).map((l) => JSON.parse(l) as Exported & { shadow?: boolean });
    assert.deepEqual(shadows.map((s) => s.job_id).sort(), primaries.map((p) => p.id).sort());
    assert.ok(shadows.every((s) => s.shadow === true && s.version === '2' && s.id === `${s.job_id}~shadow`));
  });

  test('a canary whose labelled accuracy falls below the stable one is rolled back, both figures in the event', async () => {
    const policy = { weights: { '1': 50, '2': 50 }, guardrails: { min_samples: 1_000_000, min_labelled: 50, max_accuracy_drop: 0.2 } };
    assert.equal((await request(stack.baseUrl, 'PUT', '/v1/models/scorer/routing', policy)).status, 200);
    const jobs = await score(300, (x, y) => ({ features: { x, y } }));
    const labels = jobs.map((j) => JSON.stringify({ job_id: j.id, label: truth(j.x) })).join('\n');
    const res = await fetch(`${stack.baseUrl}/v1/labels`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: labels });
    assert.equal(((await res.json()) as { stored: number }).stored, 300);
    let rollback: any;
    // The event is read from Redis, the weights from the API's policy cache (refreshed by a notice): wait for both.
    await waitFor('the rollback', async () => {
      const status = (await request(stack.baseUrl, 'GET', '/v1/models/scorer/routing')).body;
      rollback = status.events.find((e: { type: string }) => e.type === 'rollback');
      return rollback !== undefined && status.weights['2'] === 0;
    }, 30_000);
    assert.equal(rollback.reason, 'labelled_accuracy');
    assert.equal(rollback.version, '2');
    assert.equal(rollback.stable, '1');
    assert.ok(rollback.numbers.stable.accuracy > 0.95 && rollback.numbers.stable.labelled >= 50, JSON.stringify(rollback.numbers.stable));
    assert.ok(rollback.numbers.canary.accuracy < 0.05 && rollback.numbers.canary.labelled >= 50, JSON.stringify(rollback.numbers.canary));
    assert.equal(rollback.numbers.guardrails.max_accuracy_drop, 0.2);
    assert.deepEqual((await request(stack.baseUrl, 'GET', '/v1/models/scorer/routing')).body.weights, { '1': 100, '2': 0 });
    const [v1, v2] = [await versionOf('1'), await versionOf('2')];
    assert.ok(v1?.quality.accuracy > 0.95 && v1?.quality.recall > 0.95 && v1?.quality.log_loss < 0.3, JSON.stringify(v1?.quality));
    assert.ok(v2?.quality.accuracy < 0.05 && v2?.quality.log_loss > 2, JSON.stringify(v2?.quality));
    assert.equal(v1?.quality.calibration.length, 10);
    // /metrics reuses one reading for INFERQ_METRICS_CACHE_MS: the canary's figure shows once a scrape reads it afresh.
    let metrics = '';
    await waitFor('the accuracy gauge', async () => {
      metrics = await (await fetch(`${stack.baseUrl}/metrics`)).text();
      return /inferq_prediction_accuracy\{model="scorer",version="2"\} 0(\.0\d*)?\n/.test(metrics);
    }, 30_000);
    assert.match(metrics, /inferq_prediction_accuracy\{model="scorer",version="1"\} (1|0\.9\d*)\n/);
  });
});

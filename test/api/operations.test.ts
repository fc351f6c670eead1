import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { z } from 'zod';
import { startApiService, type ApiService } from '../../apps/api/src/api-service.ts';
import { jobRequestSchema } from '../../apps/api/src/services/job-request-schema.ts';
import { loadConfig } from '../../packages/core/src/config.ts';
import { ERROR_CATALOGUE } from '../../packages/core/src/errors.ts';
import { createLogger } from '../../packages/core/src/logger.ts';
import { startLocalRedis, type LocalRedis } from '../../scripts/lib/local-redis.ts';
import { SAFE_TRANSACTION } from '../support/http.ts';
import { REPO_ROOT, testModelDir } from '../support/services.ts';
import { sample } from '../support/prometheus.ts';

const TENANT_KEY = 'key-aaaaaaaa';
const ADMIN_KEY = 'admin-key-bbbbbbbb';
const tenant = { authorization: `Bearer ${TENANT_KEY}` };
const admin = { authorization: `Bearer ${ADMIN_KEY}` };


// The API without a server (app.request()) against a real Redis, with keys configured and no worker:
// jobs stay queued, so queue depth is known exactly.
describe('operations: /metrics, /openapi.json, /docs, /admin/queues', () => {
  let redis: LocalRedis;
  let service: ApiService;
  const request = (url: string, init: RequestInit = {}) => service.app.request(url, init);

  before(async () => {
    redis = await startLocalRedis();
    const config = loadConfig({ redisUrl: redis.url, modelDir: testModelDir(), apiKeys: `tenant-a:${TENANT_KEY}`, adminKeys: ADMIN_KEY, metricsCacheMs: 0 }, {});
    service = await startApiService(config, createLogger({ level: 'silent' }));
  });
  after(async () => {
    await service.close();
    await redis.stop();
  });

  test('health, metrics and docs routes are public; the v1 API is not', async () => {
    for (const url of ['/healthz', '/readyz', '/metrics', '/openapi.json', '/docs']) assert.equal((await request(url)).status, 200, url);
    assert.equal((await request('/v1/models')).status, 401);
  });

  test('routing routes need the admin scope', async () => {
    for (const [method, url] of [['GET', '/v1/models/fraud-risk/routing'], ['PUT', '/v1/models/fraud-risk/routing'], ['POST', '/v1/models/rescan'], ['DELETE', '/v1/models/fraud-risk/versions/1']]) {
      const res = await request(url as string, { method, headers: { ...tenant, 'content-type': 'application/json' }, ...(method === 'PUT' ? { body: '{"weights":{"1":100}}' } : {}) });
      assert.equal(res.status, 403, `${method} ${url}`);
    }
    const status = await request('/v1/models/fraud-risk/routing', { headers: admin });
    assert.equal(status.status, 200);
    const body = (await status.json()) as { source: string; weights: Record<string, number> };
    assert.equal(body.source, 'default');
    assert.deepEqual(body.weights, { '2': 100 });
    // No worker runs here, so no version is loaded: a policy naming one is refused.
    const put = await request('/v1/models/fraud-risk/routing', { method: 'PUT', headers: { ...admin, 'content-type': 'application/json' }, body: '{"weights":{"1":100}}' });
    assert.equal(put.status, 409);
    assert.equal(((await put.json()) as { error: { code: string } }).error.code, 'ROUTING_VERSION_NOT_READY');
  });

  test('/metrics: traffic split by version, queue depth, backlog per worker, cancellations and HTTP counts', async () => {
    const submit = (body: object) => request('/v1/jobs', { method: 'POST', headers: { ...tenant, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const jobs = [];
    for (const version of ['1', '1', undefined]) {
      const res = await submit({ model: 'fraud-risk', ...(version ? { version } : {}), features: SAFE_TRANSACTION });
      assert.equal(res.status, 202);
      jobs.push((await res.json()) as { job_id: string; model_version: string });
    }
    const latest = jobs[2]?.model_version as string;
    assert.notEqual(latest, '1');
    assert.equal((await request(`/v1/jobs/${jobs[0]?.job_id}`, { method: 'DELETE', headers: tenant })).status, 200);

    const res = await request('/metrics');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    assert.equal(sample(text, 'inferq_jobs_submitted_total', { model: 'fraud-risk', version: '1' }), 2);
    assert.equal(sample(text, 'inferq_jobs_submitted_total', { model: 'fraud-risk', version: latest }), 1);
    assert.equal(sample(text, 'inferq_jobs_submitted_total', { model: 'wide-mlp', version: '1' }), 0, 'known versions start at 0');
    assert.equal(sample(text, 'inferq_jobs_finished_total', { model: 'fraud-risk', version: '1', outcome: 'canceled', code: 'none' }), 1);
    // Two jobs are left queued (waiting, or prioritized when tenants are ordered fairly), and no worker serves them.
    const queued = ['waiting', 'prioritized'].reduce((n, state) => n + (sample(text, 'inferq_queue_jobs', { model: 'fraud-risk', state }) ?? NaN), 0);
    assert.equal(queued, 2);
    for (const state of ['active', 'delayed']) assert.equal(sample(text, 'inferq_queue_jobs', { model: 'fraud-risk', state }), 0);
    assert.equal(sample(text, 'inferq_queue_jobs', { model: 'lookup', state: 'waiting' }), 0, 'every model has its series');
    assert.equal(sample(text, 'inferq_model_workers', { model: 'fraud-risk', version: '1' }), 0);
    assert.equal(sample(text, 'inferq_queue_requests', { model: 'fraud-risk' }), 2, 'the canceled job left the queue with its bundle');
    assert.equal(sample(text, 'inferq_queue_backlog_per_worker', { model: 'fraud-risk' }), 2, 'with no worker, the whole backlog');
    assert.equal(sample(text, 'inferq_http_requests_total', { method: 'POST', route: '/v1/jobs', status: '202' }), 3);
    assert.equal(sample(text, 'inferq_http_requests_total', { method: 'GET', route: '/v1/*', status: '401' }), 1, 'refused requests count under the guard');
    assert.ok((sample(text, 'inferq_http_request_duration_seconds_count', { method: 'POST', route: '/v1/jobs' }) ?? 0) >= 3);
    assert.ok(sample(text, 'nodejs_eventloop_lag_p99_seconds') !== undefined, 'event-loop lag is exported');
    assert.ok(!text.includes(TENANT_KEY) && !text.includes(ADMIN_KEY));
  });

  test('/openapi.json: OpenAPI 3.1 covering every route, built from the request schemas, with bearer auth and the error catalogue', async () => {
    const spec = (await (await request('/openapi.json')).json()) as any;
    assert.match(spec.openapi, /^3\.1\./);
    assert.deepEqual(spec.components.securitySchemes.bearerAuth, { type: 'http', scheme: 'bearer', description: spec.components.securitySchemes.bearerAuth.description });
    assert.deepEqual(spec.security, [{ bearerAuth: [] }]);

    // Every route the app registers is documented (bull-board's own scripts and JSON API aside).
    const routes = service.app.routes.filter((r) => r.method !== 'ALL' && !r.path.startsWith('/admin/queues/'));
    assert.ok(routes.length >= 15);
    for (const route of routes) {
      const documented = route.path.replace(/:(\w+)/g, '{$1}');
      assert.ok(spec.paths[documented]?.[route.method.toLowerCase()], `${route.method} ${route.path} is missing from /openapi.json`);
    }
    for (const [url, operations] of Object.entries<Record<string, any>>(spec.paths)) {
      for (const [method, op] of Object.entries(operations)) {
        const isPublic = !url.startsWith('/v1/') && !url.startsWith('/admin/') && !((url === '/v2' || url.startsWith('/v2/')) && !url.startsWith('/v2/health/'));
        assert.equal(op.security?.length === 0, isPublic, `${method} ${url}: public iff not under /v1, /admin or /v2 (its health probes aside)`);
        if (!isPublic) assert.ok(Object.keys(op.responses).some((s) => /^4\d\d$/.test(s)), `${method} ${url} documents its 4xx responses`);
      }
    }

    // The request body is the validating schema itself, converted.
    const expected = z.toJSONSchema(jobRequestSchema(604800), { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
    delete expected.$schema;
    assert.deepEqual(spec.components.schemas.JobRequest, expected);
    assert.deepEqual(spec.paths['/v1/jobs'].post.requestBody.content['application/json'].schema, { $ref: '#/components/schemas/JobRequest' });
    assert.deepEqual(spec.components.schemas.Error.properties.error.properties.code.enum, Object.keys(ERROR_CATALOGUE));
    assert.match(spec.components.responses.Error422.description, /INPUT_SHAPE_MISMATCH/);
  });

  test('redocly lint passes on the document (repo config redocly.yaml, strict)', async () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'inferq-openapi-')), 'openapi.json');
    writeFileSync(file, await (await request('/openapi.json')).text());
    const cli = path.join(REPO_ROOT, 'node_modules/@redocly/cli/bin/cli.js');
    const run = await promisify(execFile)(process.execPath, [cli, 'lint', '--config', path.join(REPO_ROOT, 'redocly.yaml'), '--format', 'stylish', file], {
      cwd: REPO_ROOT,
      env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_NOTIFICATIONS: 'true', NO_COLOR: '1' },
    }).catch((error: { stdout: string; stderr: string }) => assert.fail(`redocly lint failed:\n${error.stdout}\n${error.stderr}`));
    assert.match(run.stdout + run.stderr, /valid/i);
  });

  test('/docs works offline: HTML that references only local assets, each served', async () => {
    const page = await request('/docs');
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'self'/);
    const html = await page.text();
    const refs = [...html.matchAll(/\b(?:src|href)="([^"]+)"/g)].map((m) => m[1] as string);
    assert.ok(refs.length >= 3, 'a stylesheet and scripts');
    const base = 'http://inferq.test/docs';
    for (const ref of refs) {
      assert.doesNotMatch(ref, /^(?:[a-z]+:)?\/\//i, `${ref} must be served by the API itself`);
      const url = new URL(ref, base);
      assert.equal(url.origin, 'http://inferq.test');
      const asset = await request(url.pathname);
      assert.equal(asset.status, 200, url.pathname);
      assert.ok((await asset.arrayBuffer()).byteLength > 0, url.pathname);
      if (url.pathname.endsWith('init.js')) {
        const script = await (await request(url.pathname)).text();
        const specUrl = /url: '([^']+)'/.exec(script)?.[1] as string;
        assert.equal((await request(new URL(specUrl, base).pathname)).status, 200, 'the page loads the spec from this API');
      }
    }
    assert.doesNotMatch(html, /https?:\/\//, 'no CDN URL in the page');
    assert.equal((await request('/docs/assets/package.json')).status, 404, 'only the listed assets are served');
  });

  test('/admin/queues: bull-board with every queue, behind the admin scope', async () => {
    const none = await request('/admin/queues');
    assert.equal(none.status, 401);
    assert.equal(((await none.json()) as any).error.code, 'UNAUTHORIZED');
    const forbidden = await request('/admin/queues', { headers: tenant });
    assert.equal(forbidden.status, 403);
    assert.equal(((await forbidden.json()) as any).error.code, 'FORBIDDEN');
    assert.equal((await request('/admin/queues/api/queues', { headers: tenant })).status, 403, 'its JSON API too');

    const page = await request('/admin/queues', { headers: admin });
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.match(html, /inferq queues/);
    assert.doesNotMatch(html, /fonts\.googleapis|fonts\.gstatic/, 'no outside font request');
    const script = /<script[^>]+src="([^"]+)"/.exec(html)?.[1];
    assert.ok(script, 'the page loads its script');
    const scriptUrl = new URL(script, 'http://inferq.test/admin/queues/').pathname;
    assert.equal((await request(scriptUrl)).status, 401, 'its assets need the key as well');
    assert.equal((await request(scriptUrl, { headers: admin })).status, 200);

    const api = await request('/admin/queues/api/queues', { headers: admin });
    assert.equal(api.status, 200);
    const names = ((await api.json()) as { queues: { name: string }[] }).queues.map((q) => q.name).sort();
    for (const model of ['fraud-risk', 'wide-mlp', 'lookup', 'textline-ocr', 'text-orientation']) assert.ok(names.includes(`model-{${model}}`), `model-{${model}} in ${names}`);
    assert.ok(names.includes('{webhooks}') && names.includes('{schedules}'), `webhooks and schedules in ${names}`);
  });
});

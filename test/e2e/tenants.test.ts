import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync, utimesSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { request, SAFE_TRANSACTION } from '../support/http.ts';
import { startStack, type Stack } from '../support/services.ts';

const A = { authorization: 'Bearer key-aaaaaaaa' };
const B = { authorization: 'Bearer key-bbbbbbbb' };
const ADMIN = { authorization: 'Bearer admin-key-cccccccc' };

describe('API keys and tenant isolation', () => {
  let stack: Stack;
  let keyFile: string;
  before(async () => {
    keyFile = path.join(mkdtempSync(path.join(os.tmpdir(), 'inferq-keys-')), 'keys.txt');
    writeFileSync(keyFile, '# rotated by the tests\ntenant-c:key-c-first\n');
    stack = await startStack({
      env: { INFERQ_API_KEYS: 'tenant-a:key-aaaaaaaa,tenant-b:key-bbbbbbbb', INFERQ_ADMIN_KEYS: 'admin-key-cccccccc', INFERQ_API_KEYS_FILE: keyFile },
      workerEnv: { INFERQ_MODELS: 'fraud-risk' },
    });
  });
  after(() => stack.stop());

  test('no key or a wrong key is 401 with a Bearer challenge; health probes stay open', async () => {
    for (const headers of [{}, { authorization: 'Bearer nope-nope-nope' }, { authorization: 'Basic abc' }] as Record<string, string>[]) {
      const res = await request(stack.baseUrl, 'POST', '/v1/jobs', { model: 'fraud-risk', features: SAFE_TRANSACTION }, headers);
      assert.equal(res.status, 401);
      assert.equal(res.body.error.code, 'UNAUTHORIZED');
      assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer/);
    }
    assert.equal((await request(stack.baseUrl, 'GET', '/v1/models')).status, 401);
    assert.equal((await request(stack.baseUrl, 'GET', '/healthz')).status, 200);
    const ready = await request(stack.baseUrl, 'GET', '/readyz');
    assert.equal(ready.body.auth, 'api-keys');
  });

  test("another tenant's job is a 404 identical to a job that never existed, on every job route", async () => {
    const submitted = await request(stack.baseUrl, 'POST', '/v1/jobs', { model: 'fraud-risk', features: SAFE_TRANSACTION }, A);
    assert.equal(submitted.status, 202);
    const id = submitted.body.job_id as string;
    assert.equal((await request(stack.baseUrl, 'GET', `/v1/jobs/${id}?wait=20`, undefined, A)).body.status, 'succeeded');
    const never = `fraud-risk.01M87MDTB3PNGHXNGA8VGPR9WM${id.slice(-6)}`;
    const routes: [string, string][] = [
      ['GET', ''],
      ['GET', '?wait=1'],
      ['DELETE', ''],
      ['GET', '/deliveries'],
      ['POST', '/deliveries/redeliver'],
    ];
    for (const [method, suffix] of routes) {
      const theirs = await request(stack.baseUrl, method, `/v1/jobs/${id}${suffix}`, undefined, B);
      const missing = await request(stack.baseUrl, method, `/v1/jobs/${never}${suffix}`, undefined, B);
      assert.equal(theirs.status, 404, `${method} ${suffix}`);
      assert.equal(theirs.body.error.code, 'JOB_NOT_FOUND');
      assert.deepEqual({ ...theirs.body.error, message: '', details: {} }, { ...missing.body.error, message: '', details: {} });
      assert.equal(theirs.body.error.message.replace(id, 'ID'), missing.body.error.message.replace(never, 'ID'));
    }
    assert.equal((await request(stack.baseUrl, 'GET', `/v1/jobs/${id}`, undefined, A)).status, 200, 'the owner still sees it');
  });

  test("another tenant's batch is a 404 on status, results and cancel", async () => {
    const submitted = await request(stack.baseUrl, 'POST', '/v1/batches', { model: 'fraud-risk', rows: [{ features: SAFE_TRANSACTION }] }, A);
    assert.equal(submitted.status, 202);
    const id = submitted.body.batch_id as string;
    await request(stack.baseUrl, 'GET', `/v1/batches/${id}?wait=20`, undefined, A);
    for (const [method, suffix] of [['GET', ''], ['GET', '/results'], ['DELETE', '']] as const) {
      const theirs = await request(stack.baseUrl, method, `/v1/batches/${id}${suffix}`, undefined, B);
      assert.equal(theirs.status, 404, `${method} ${suffix}`);
      assert.equal(theirs.body.error.code, 'BATCH_NOT_FOUND');
    }
    assert.equal((await request(stack.baseUrl, 'GET', `/v1/batches/${id}`, undefined, A)).body.status, 'succeeded');
  });

  test('the same Idempotency-Key from two tenants makes two jobs', async () => {
    const body = { model: 'fraud-risk', features: SAFE_TRANSACTION };
    const a = await request(stack.baseUrl, 'POST', '/v1/jobs', body, { ...A, 'idempotency-key': 'shared-key' });
    const b = await request(stack.baseUrl, 'POST', '/v1/jobs', body, { ...B, 'idempotency-key': 'shared-key' });
    assert.equal(a.status, 202);
    assert.equal(b.status, 202);
    assert.notEqual(a.body.job_id, b.body.job_id);
    assert.equal(b.headers.get('idempotent-replayed'), null);
  });

  test('schedules need the admin scope: 403 for tenant keys', async () => {
    const schedule = { cron: '0 3 * * *', model: 'fraud-risk', input: os.tmpdir(), output: os.tmpdir() };
    const denied = await request(stack.baseUrl, 'PUT', '/v1/schedules/nightly', schedule, A);
    assert.equal(denied.status, 403);
    assert.equal(denied.body.error.code, 'FORBIDDEN');
    assert.equal((await request(stack.baseUrl, 'GET', '/v1/schedules', undefined, B)).status, 403);
    assert.equal((await request(stack.baseUrl, 'PUT', '/v1/schedules/nightly', schedule, ADMIN)).status, 200);
    assert.equal((await request(stack.baseUrl, 'DELETE', '/v1/schedules/nightly', undefined, ADMIN)).status, 204);
    // A browser (the queue dashboard) can send the key as the HTTP Basic password.
    const basic = { authorization: `Basic ${Buffer.from('ops:admin-key-cccccccc').toString('base64')}` };
    assert.equal((await request(stack.baseUrl, 'GET', '/v1/schedules', undefined, basic)).status, 200);
  });

  test('keys in INFERQ_API_KEYS_FILE rotate without a restart', async () => {
    const first = { authorization: 'Bearer key-c-first' };
    const second = { authorization: 'Bearer key-c-second' };
    assert.equal((await request(stack.baseUrl, 'GET', '/v1/models', undefined, first)).status, 200);
    writeFileSync(keyFile, 'tenant-c:key-c-second\n');
    const later = new Date(Date.now() + 5000);
    utimesSync(keyFile, later, later);
    let rotated = false;
    for (let i = 0; i < 100 && !rotated; i++) {
      await new Promise((r) => setTimeout(r, 100));
      rotated = (await request(stack.baseUrl, 'GET', '/v1/models', undefined, second)).status === 200;
    }
    assert.ok(rotated, 'the new key works');
    assert.equal((await request(stack.baseUrl, 'GET', '/v1/models', undefined, first)).status, 401, 'the old key no longer does');
  });
});

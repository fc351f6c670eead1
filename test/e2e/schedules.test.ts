import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { request, SAFE_TRANSACTION } from '../support/http.ts';
import { startStack, type Stack } from '../support/services.ts';

describe('batch schedules (BullMQ job schedulers)', () => {
  let stack: Stack;
  let dir: string;
  let schedulesFile: string;
  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'inferq-schedules-'));
    mkdirSync(path.join(dir, 'in'));
    mkdirSync(path.join(dir, 'out'));
    writeFileSync(path.join(dir, 'in', 'daily.ndjson'), Array.from({ length: 20 }, (_, i) => JSON.stringify({ id: i, features: { ...SAFE_TRANSACTION, amount: i + 1 } })).join('\n'));
    writeFileSync(path.join(dir, 'in', 'ignored.txt'), 'not an input');
    schedulesFile = path.join(dir, 'schedules.json');
    writeFileSync(schedulesFile, JSON.stringify({ nightly: { cron: '0 2 * * *', tz: 'Europe/Paris', model: 'fraud-risk', input: path.join(dir, 'in'), output: path.join(dir, 'out') } }));
    stack = await startStack({ workers: 2, workerEnv: { INFERQ_MODELS: 'fraud-risk' }, env: { INFERQ_SCHEDULES_FILE: schedulesFile } });
  });
  after(() => stack.stop());

  test('schedules from the config file are applied at start', async () => {
    const res = await request(stack.baseUrl, 'GET', '/v1/schedules/nightly');
    assert.equal(res.status, 200);
    assert.equal(res.body.tz, 'Europe/Paris');
    assert.ok(Date.parse(res.body.next_run_at) > Date.now());
  });

  test('with two workers, each tick runs exactly once and writes its results', async () => {
    const schedule = { cron: '* * * * * *', model: 'fraud-risk', input: path.join(dir, 'in'), output: path.join(dir, 'out') };
    const put = await request(stack.baseUrl, 'PUT', '/v1/schedules/every-second', schedule);
    assert.equal(put.status, 200, JSON.stringify(put.body));
    await new Promise((r) => setTimeout(r, 4500));
    assert.equal((await request(stack.baseUrl, 'DELETE', '/v1/schedules/every-second')).status, 204);
    await new Promise((r) => setTimeout(r, 1500)); // let the last tick finish writing

    const ticks = stack.workers.flatMap((w) => w.lines.filter((l) => l.includes('"msg":"schedule tick done"')).map((l) => JSON.parse(l).tick_job as string));
    assert.ok(ticks.length >= 3, `ticks: ${ticks.length}`);
    assert.equal(new Set(ticks).size, ticks.length, 'no tick ran twice');

    const outputs = readdirSync(path.join(dir, 'out')).filter((f) => f.startsWith('daily.'));
    assert.equal(outputs.length, ticks.length, 'one output file per tick, for the .ndjson input only');
    for (const file of outputs) {
      const lines = readFileSync(path.join(dir, 'out', file), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
      assert.equal(lines.length, 20);
      assert.ok(lines.every((l, i) => l.row === i && l.id === i && l.result.label === 'legit'));
    }
    assert.ok(!stack.workers.some((w) => w.lines.some((l) => l.includes('EEXIST'))), 'no output was written twice');
  });

  test('schedule validation: bad cron 400, unknown model 404, unknown schedule 404', async () => {
    const bad = await request(stack.baseUrl, 'PUT', '/v1/schedules/bad', { cron: 'every tuesday', model: 'fraud-risk', input: dir, output: dir });
    assert.equal(bad.status, 400);
    const unknown = await request(stack.baseUrl, 'PUT', '/v1/schedules/x', { cron: '0 * * * *', model: 'nope', input: dir, output: dir });
    assert.equal(unknown.body.error.code, 'MODEL_NOT_FOUND');
    assert.equal((await request(stack.baseUrl, 'DELETE', '/v1/schedules/never-made')).body.error.code, 'SCHEDULE_NOT_FOUND');
  });
});

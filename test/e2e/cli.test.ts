import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freePort } from '../../scripts/lib/local-redis.ts';
import { SAFE_TRANSACTION } from '../support/http.ts';
import { REPO_ROOT, startStack, type Stack } from '../support/services.ts';

const CLI = path.join(REPO_ROOT, 'packages/cli/bin/inferq.mjs');

/** Runs the CLI as cron would: no terminal, output captured. */
function inferq(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('inferq CLI against a running server', () => {
  let stack: Stack;
  let dir: string;
  before(async () => {
    stack = await startStack({ workerEnv: { INFERQ_MODELS: 'fraud-risk' } });
    dir = mkdtempSync(path.join(os.tmpdir(), 'inferq-cli-'));
  });
  after(() => stack.stop());

  test('batch submit --wait --output: results in input order, plain progress lines, exit 0', async () => {
    const input = path.join(dir, 'rows.ndjson');
    writeFileSync(input, Array.from({ length: 3000 }, (_, i) => JSON.stringify({ id: i, features: { ...SAFE_TRANSACTION, amount: i + 1 } })).join('\n'));
    const output = path.join(dir, 'scores.ndjson');
    const run = await inferq(['batch', 'submit', '--model', 'fraud-risk', '--input', input, '--wait', '--output', output, '--url', stack.baseUrl]);
    assert.equal(run.code, 0, run.stderr);
    const lines = readFileSync(output, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines.length, 3000);
    assert.ok(lines.every((l, i) => l.row === i && l.id === i && typeof l.result.probability === 'number'));
    assert.match(run.stderr, /^\d{4}-\d\d-\d\dT.* batch-\S+ succeeded 100% 3000\/3000 rows, 0 failed$/m, 'no terminal: plain, timestamped progress lines');
    assert.doesNotMatch(run.stderr, /\r/, 'no bar redraws outside a terminal');
    assert.match(run.stderr, new RegExp(`^batch-\\S+ succeeded: 3,000 of 3,000 rows scored, 0 failed; results in ${output.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'), 'the summary names the output file');
  });

  test('a CSV with bad rows exits 1 (rows failed), writes every line, and names the first failed rows; results to stdout', async () => {
    const input = path.join(dir, 'rows.csv');
    const names = Object.keys(SAFE_TRANSACTION);
    const good = Object.values(SAFE_TRANSACTION).join(',');
    const bad = ['x', ...Object.values(SAFE_TRANSACTION).slice(1)].join(',');
    // Rows 1, 3, 5, ..., 15 are bad: more than the summary shows, and one (row 1100) past the first chunk of 1024.
    const rows = Array.from({ length: 1200 }, (_, i) => (i % 2 === 1 && i < 16) || i === 1100 ? bad : good);
    writeFileSync(input, [names.join(','), ...rows].join('\n'));
    const run = await inferq(['batch', 'submit', '--model', 'fraud-risk', '--input', input, '--wait'], { INFERQ_URL: stack.baseUrl });
    assert.equal(run.code, 1, run.stderr);
    const lines = run.stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines.length, 1200);
    assert.equal(lines[1].error.code, 'INPUT_VALUE_INVALID');
    for (const row of [1, 1100]) {
      assert.equal(lines[row].row, row);
      assert.equal(lines[row].error.details.row, row, 'details.row is the row in the batch, as the line says');
    }
    assert.match(run.stderr, /^batch-\S+ succeeded: 1,191 of 1,200 rows scored, 9 failed; results on standard output$/m);
    const shown = [...run.stderr.matchAll(/^ {2}row (\d+): INPUT_VALUE_INVALID: /gm)].map((m) => Number(m[1]));
    assert.deepEqual(shown, [1, 3, 5, 7, 9], 'the first five failed rows, with their codes');
    assert.match(run.stderr, /^ {2}… and 4 more failed rows/m);
    assert.doesNotMatch(run.stderr, /failed succeeded/);

    const id = /submitted (batch-\S+):/.exec(run.stderr)?.[1] as string;
    const status = await inferq(['batch', 'status', id, '--url', stack.baseUrl]);
    assert.equal(status.code, 1);
    assert.equal(JSON.parse(status.stdout).failed, 9);

    const output = path.join(dir, 'again.ndjson');
    const results = await inferq(['batch', 'results', id, '--output', output, '--url', stack.baseUrl]);
    assert.equal(results.code, 1, 'results of a batch with failed rows: exit 1, as for submit --wait');
    assert.equal(readFileSync(output, 'utf8'), run.stdout);
    assert.match(results.stderr, new RegExp(`9 failed; results in ${output.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
  });

  test('exit codes: usage 64, unreadable input 65, refused request 65, unreachable server 69', async () => {
    assert.equal((await inferq(['batch', 'submit', '--input', 'x.ndjson'])).code, 64);
    assert.equal((await inferq(['frobnicate'])).code, 64);
    assert.equal((await inferq(['batch', 'submit', '--model', 'fraud-risk', '--input', 'x.ndjson', '--wait', '--timeout', 'soon'])).code, 64);
    assert.equal((await inferq(['batch', 'submit', '--model', 'fraud-risk', '--input', path.join(dir, 'missing.ndjson'), '--url', stack.baseUrl])).code, 65);
    const input = path.join(dir, 'one.ndjson');
    writeFileSync(input, JSON.stringify({ features: SAFE_TRANSACTION }));
    const refused = await inferq(['batch', 'submit', '--model', 'no-such-model', '--input', input, '--url', stack.baseUrl]);
    assert.equal(refused.code, 65);
    assert.match(refused.stderr, /MODEL_NOT_FOUND/);
    const down = await inferq(['batch', 'submit', '--model', 'fraud-risk', '--input', input, '--url', `http://127.0.0.1:${await freePort()}`]);
    assert.equal(down.code, 69);
    assert.match(down.stderr, /cannot reach inferq/);
  });
});

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { InferqClient } from '../../packages/client/src/inferq-client.ts';
import { SAFE_TRANSACTION } from '../support/http.ts';
import { REPO_ROOT, startStack, type Stack } from '../support/services.ts';

const EXAMPLES = path.join(REPO_ROOT, 'examples/client');
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const ROWS_BYTES = statSync(path.join(EXAMPLES, 'rows.ndjson')).size;
const exampleFiles = readdirSync(EXAMPLES).filter((f) => f.endsWith('.ts')).sort();

/** Runs one README example as a user would (`node --import tsx <file>` from the checkout). */
function runExample(file: string, env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join('examples/client', file)], { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The ```ts blocks of the client's README (packages/client/README.md). */
function readmeClientBlocks(): string[] {
  const readme = readFileSync(path.join(REPO_ROOT, 'packages/client/README.md'), 'utf8');
  return [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] as string);
}

/** What each example must print, line by line, against a running inferq. */
const EXPECTED: Record<string, { against: 'stack'; output: RegExp }> = {
  'submit.ts': { against: 'stack', output: /^fraud-risk\.\w+ queued\n$/ },
  'get.ts': { against: 'stack', output: /^fraud-risk\.\w+ (queued|running|succeeded)\n$/ },
  'wait.ts': { against: 'stack', output: /^succeeded \{ probability: [\d.e-]+, label: 'legit' \}\n$/ },
  'run.ts': { against: 'stack', output: /^succeeded \{"predictions":\[\{"probability":[\d.e-]+,"label":"fraud"\},\{"probability":[\d.e-]+,"label":"legit"\}\]\}\n$/ },
  // No worker serves wide-mlp in this stack, so the job is still queued when the cancel comes.
  'cancel.ts': { against: 'stack', output: /^wide-mlp\.\w+ canceled\n$/ },
  'bulk.ts': { against: 'stack', output: /^queued: fraud-risk\.\w+\nrefused: INPUT_VALUE_INVALID\n$/ },
  'batch-upload.ts': { against: 'stack', output: new RegExp(`^(sent \\d+ of ${ROWS_BYTES} bytes\\n)*sent ${ROWS_BYTES} of ${ROWS_BYTES} bytes\\nbatch-\\S+ 4 rows\\n$`) },
  'batch-upload-stream.ts': { against: 'stack', output: /^batch-\S+ 1000 rows\n$/ },
  'batch-get.ts': { against: 'stack', output: /^batch-\S+ (queued|running|succeeded) [\d.]+%\n$/ },
  'batch-wait.ts': { against: 'stack', output: /^((queued|running) \d\/4\n)*succeeded 4\/4\nsucceeded 3 succeeded, 1 failed\n$/ },
  'batch-results.ts': { against: 'stack', output: /^0 t-1 \{"probability":[\d.e-]+,"label":"fraud"\}\n1 t-2 \{"probability":[\d.e-]+,"label":"legit"\}\n2 t-3 INPUT_VALUE_INVALID\n3 t-4 \{"probability":[\d.e-]+,"label":"\w+"\}\n$/ },
  'batch-cancel.ts': { against: 'stack', output: /^canceled 5000 rows canceled\n$/ },
  'verify-webhook.ts': { against: 'stack', output: /^verified job\.succeeded msg_\S+\n$/ },
  'errors.ts': { against: 'stack', output: /^422 FEATURE_MISSING \[\n? *'hour_of_day',[\s\S]*'card_present'\s*\]\n404 JOB_NOT_FOUND\n$/ },
  // The stream starts at the state the job (or batch) is in when it opens, and shows every step after it.
  'events.ts': { against: 'stack', output: /^((1 queued queued\n)?2 running running\n)?3 succeeded succeeded\n$/ },
  'batch-events.ts': { against: 'stack', output: /^(progress [\d.]+%\n)*succeeded 100%\n$/ },
};

describe('the README shows the client examples that the tests run', () => {
  test('every examples/client file is in the README verbatim, and every ts block of the section is one of them', () => {
    const blocks = readmeClientBlocks();
    const files = exampleFiles.map((f) => readFileSync(path.join(EXAMPLES, f), 'utf8'));
    for (const [i, file] of files.entries()) assert.ok(blocks.includes(file), `${exampleFiles[i]} is in the README as written`);
    for (const block of blocks) assert.ok(files.includes(block), `README block is an example file:\n${block}`);
    assert.deepEqual(Object.keys(EXPECTED).sort(), exampleFiles, 'each example has its expected output here');
  });
});

describe('@inferq/client against a running inferq', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({
      env: { INFERQ_WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8', INFERQ_WEBHOOK_SECRET: SECRET },
      workerEnv: { INFERQ_MODELS: 'fraud-risk' },
    });
  });
  after(() => stack.stop());

  for (const [file, expected] of Object.entries(EXPECTED).filter(([, e]) => e.against === 'stack')) {
    test(`README example ${file}`, async () => {
      const run = await runExample(file, { INFERQ_URL: stack.baseUrl, INFERQ_WEBHOOK_SECRET: SECRET });
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, expected.output);
    });
  }

  test('a resubmit with the same Idempotency-Key is the same job; run returns the finished job', async () => {
    const client = new InferqClient({ baseUrl: stack.baseUrl });
    const request = { model: 'fraud-risk', features: SAFE_TRANSACTION };
    const first = await client.submit(request, { idempotencyKey: 'client-e2e-1' });
    const again = await client.submit(request, { idempotencyKey: 'client-e2e-1' });
    assert.equal(again.job_id, first.job_id);
    assert.notEqual((await client.submit(request)).job_id, first.job_id, 'a generated key is fresh per call');
    const done = await client.run(request);
    assert.equal(done.status, 'succeeded');
    assert.deepEqual(await client.get(done.job_id), done);
  });
});

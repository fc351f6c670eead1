import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freePort, startLocalRedis, type LocalRedis } from '../../scripts/lib/local-redis.ts';
import { compiledEnv, REPO_ROOT } from '../support/services.ts';

/** The README's ```sh blocks, in order. */
const BLOCKS = [...readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8').matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1] as string);

/**
 * The blocks this test does not run, each found by its first command, and why. Every other block
 * runs as written (against a port of its own instead of 3000) and must say what `RUNS` expects.
 */
const NOT_RUN: { first: RegExp; why: string }[] = [
  { first: /^npm ci && npm start/, why: 'the quick start: this test starts inferq with that same `npm start`; `npm ci` would replace the node_modules the suite runs from, `npm test` would run the suite inside itself' },
  { first: /^npx inferq batch submit/, why: 'the CLI: its last line is a synopsis (status|results|cancel <batch_id>); test/e2e/cli.test.ts runs the CLI' },
  { first: /^INFERQ_API_KEYS=/, why: 'starts a second inferq on port 3000 with API keys; test/e2e/tenants.test.ts covers keys' },
  { first: /^# Canary:/, why: 'needs fraud-risk versions 3 and 4, which the demo repository does not ship, and an admin key' },
  { first: /^npm ci && npm run build/, why: 'a deployment: its Redis is a host named redis' },
  { first: /^REDIS_URL=redis-cluster:\/\//, why: 'a deployment against a Redis Cluster on other hosts; npm run test:cluster runs the e2e suites against a local three-master cluster' },
  { first: /^npm run build\s/, why: 'development commands: the build and the suite this test is part of' },
  { first: /^npm run bench[\s:]/, why: 'benches: minutes of load on the machine' },
  { first: /^kubectl /, why: 'needs a Kubernetes cluster; test/deploy/kubernetes.test.ts renders and validates the manifests offline' },
  { first: /^curl -N localhost:3000\/v1\/jobs\/<job_id>\/events/, why: 'a stream of a job of the reader\'s (the id is a placeholder); test/e2e/events.test.ts streams jobs and batches from submit to result' },
  { first: /^npm exec --prefix /, why: 'the CLI from another directory, against a checkout at /srv/inferq; test/e2e/cli.test.ts runs the CLI' },
  { first: /^curl -s 'localhost:3000\/v1\/jobs\?model=document-ocr'/, why: 'needs a page image (page.png); test/e2e/document-ocr.test.ts uploads rendered pages the same way and checks the result and its stage timings' },
];

/** What the output of each block that runs must show; `errors` lists the error codes it may answer. */
const RUNS: { first: RegExp; expect: RegExp[]; errors?: string[]; files?: Record<string, RegExp> }[] = [
  {
    first: /^# Submit: 202 at once/,
    expect: [/"status":"queued"/, /"status":"succeeded".*"result":\{"probability":1,"label":"fraud"\}/, /"model_version":"1","created_at":"[^"]+","routed_by":"pinned"/, /"text":"Invoice No 8841"/, /"name":"textline-ocr"/],
    errors: ['JOB_NOT_CANCELABLE'],
  },
  { first: /^batch_id=\$\(curl/, expect: [/"status":"succeeded",.*"total":20,"succeeded":20,"failed":0/], files: { 'scores.ndjson': /^(\{"row":\d+,"id":"txn-\d{4}","result":\{"probability":[\d.e-]+,"label":"(legit|fraud)"\}\}\n){20}$/ } },
  { first: /^curl -s -X PUT localhost:3000\/v1\/schedules/, expect: [/"name":"nightly-scores"/, /"next_run_at":"\d{4}-/] },
  { first: /^curl -s localhost:3000\/v1\/jobs -H 'content-type: application\/json' -d '\{\n {2}"model": "fraud-risk",\n {2}"features"/, expect: [/"status":"queued"/] },
  {
    first: /^curl -s localhost:3000\/v2\/models\/fraud-risk\/infer/,
    expect: [/"model_name":"fraud-risk".*"id":"42"/, /"outputs":\[\{"name":"probability","datatype":"FP32","shape":\[1,1\]/, /"platform":"onnx_onnxv1"/, /\{"name":"fraud-risk","ready":true\}/, /\}\{"ready":true\}$/],
  },
];

const matches = (block: string, first: RegExp) => first.test(block);

describe('every README command runs as written', () => {
  let redis: LocalRedis;
  let inferq: ChildProcess;
  let port: number;
  let workDir: string;

  before(async () => {
    redis = await startLocalRedis();
    port = await freePort();
    // `npm start` as the quick start runs it: build, then the compiled API and worker.
    inferq = spawn('npm', ['start'], { cwd: REPO_ROOT, env: { ...compiledEnv(), REDIS_URL: redis.url, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let said = '';
    inferq.stderr?.on('data', (chunk: Buffer) => (said += chunk.toString()));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`npm start was not ready within 120 s:\n${said}`)), 120_000);
      inferq.stdout?.on('data', (chunk: Buffer) => {
        said += chunk.toString();
        if (said.includes('inferq is ready at')) {
          clearTimeout(timer);
          resolve();
        }
      });
      inferq.once('exit', (code) => reject(new Error(`npm start exited (${code}):\n${said}`)));
    });
    // The blocks run in a directory of their own (they write scores.ndjson), with the examples.
    workDir = mkdtempSync(path.join(os.tmpdir(), 'inferq-readme-'));
    symlinkSync(path.join(REPO_ROOT, 'examples'), path.join(workDir, 'examples'));
  });

  after(async () => {
    if (inferq?.pid !== undefined && inferq.exitCode === null) {
      const exited = new Promise((resolve) => inferq.once('exit', resolve));
      process.kill(-inferq.pid, 'SIGINT');
      const forced = setTimeout(() => inferq.pid !== undefined && process.kill(-inferq.pid, 'SIGKILL'), 45_000);
      await exited;
      clearTimeout(forced);
    }
    await redis?.stop();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  test('each block is either run below or listed with the reason it is not', () => {
    for (const block of BLOCKS) {
      const listed = NOT_RUN.filter((n) => matches(block, n.first)).length + RUNS.filter((r) => matches(block, r.first)).length;
      assert.equal(listed, 1, `a README block is neither run nor listed as not run (or listed twice):\n${block}`);
    }
    for (const entry of [...NOT_RUN, ...RUNS]) assert.ok(BLOCKS.some((b) => matches(b, entry.first)), `no README block starts like ${entry.first}`);
  });

  for (const run of RUNS) {
    test(`the block starting ${run.first.source.slice(1, 40)}… runs and answers as the README says`, async () => {
      const block = BLOCKS.find((b) => matches(b, run.first)) as string;
      const script = block.replaceAll('localhost:3000', `localhost:${port}`);
      const bash = spawn('bash', ['-e', '-o', 'pipefail', '-c', script], { cwd: workDir, env: compiledEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      bash.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      bash.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
      const code = await new Promise((resolve) => bash.once('exit', resolve));
      assert.equal(code, 0, `the block failed:\n${script}\n--- stdout\n${out}\n--- stderr\n${err}`);
      for (const expected of run.expect) assert.match(out, expected);
      const codes = [...out.matchAll(/"error":\{"code":"([A-Z_]+)"/g)].map((m) => m[1]);
      for (const errorCode of codes) assert.ok(run.errors?.includes(errorCode as string), `unexpected error ${errorCode} in:\n${out}`);
      for (const [file, content] of Object.entries(run.files ?? {})) assert.match(readFileSync(path.join(workDir, file), 'utf8'), content);
    });
  }
});

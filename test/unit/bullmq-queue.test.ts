import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { Queue as BullMQQueue } from 'bullmq';
import { Queue } from '../../packages/core/src/bullmq-queue.ts';
import { REPO_ROOT, SOURCE_NODE_FLAGS } from '../support/services.ts';

describe("the API's BullMQ: the Queue class without BullMQ's worker side", () => {
  test("it is bullmq's own Queue class, not a copy", () => {
    assert.equal(Queue, BullMQQueue);
  });

  test("loading the API's modules loads neither BullMQ's index nor its worker, sandbox or PostgreSQL backend", () => {
    const script = `
      await import('./apps/api/src/api-service.ts');
      const { createRequire } = await import('node:module');
      console.log(JSON.stringify(Object.keys(createRequire(import.meta.url).cache)));
    `;
    const child = spawnSync(process.execPath, [...SOURCE_NODE_FLAGS, '--input-type=module', '-e', script], { cwd: REPO_ROOT, encoding: 'utf8' });
    assert.equal(child.status, 0, child.stderr);
    const loaded = (JSON.parse(child.stdout.trim().split('\n').at(-1) as string) as string[]).filter((file) => file.includes('/node_modules/bullmq/'));
    assert.ok(loaded.some((file) => file.endsWith('/bullmq/dist/cjs/classes/queue.js')), 'the Queue class is loaded');
    const workerSide = loaded.filter((file) => /\/bullmq\/dist\/cjs\/(index\.js|classes\/(worker|child|sandbox|flow-producer)\.js|postgres\/)/.test(file));
    assert.deepEqual(workerSide, []);
  });
});

import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EXAMPLE_JOB_ID, TRANSACTION } from '../../apps/api/src/openapi/request-examples.ts';
import { REPO_ROOT, startStack, type Stack } from '../support/services.ts';

interface MediaType {
  examples?: Record<string, { summary: string; value: unknown }>;
}
type Operation = { requestBody?: { content: Record<string, MediaType> } };

/** Path parameters the examples are sent with: a demo model, a schedule of our own. */
const PATH_PARAMETERS: Record<string, string> = { name: 'fraud-risk', version: '2' };
const SCHEDULE_NAME = 'openapi-example';
/** Raw uploads carry the model in the query string, as the examples' summaries say. */
const QUERY_FOR_RAW_BODIES = '?model=fraud-risk';

// What /docs' "Try it out" sends: every example of every request body, to a running API and worker.
describe('the OpenAPI request examples work as sent', () => {
  let stack: Stack;
  let spec: { paths: Record<string, Record<string, Operation>> };
  before(async () => {
    stack = await startStack();
    spec = (await (await fetch(`${stack.baseUrl}/openapi.json`)).json()) as typeof spec;
  });
  after(async () => {
    await stack?.stop();
  });

  /** Every (path, method, content type, example) of the document, image uploads aside (their example is a file). */
  const examplesOf = () =>
    Object.entries(spec.paths).flatMap(([url, operations]) =>
      Object.entries(operations).flatMap(([method, operation]) =>
        Object.entries(operation.requestBody?.content ?? {})
          .filter(([type]) => !type.startsWith('image/'))
          .map(([type, media]) => ({ url, method, type, examples: Object.entries(media.examples ?? {}) })),
      ),
    );

  test('every request body has an example per content type, and the job examples cover every demo model', () => {
    const bodies = examplesOf();
    assert.ok(bodies.length >= 7, `request bodies: ${bodies.map((b) => `${b.method} ${b.url} ${b.type}`).join(', ')}`);
    for (const body of bodies) assert.ok(body.examples.length > 0, `${body.method.toUpperCase()} ${body.url} (${body.type}) has no example`);
    const jobExamples = bodies.find((b) => b.url === '/v1/jobs' && b.type === 'application/json')?.examples ?? [];
    const models = new Set(jobExamples.map(([, example]) => (example.value as { model: string }).model));
    for (const demo of readdirSync(path.join(REPO_ROOT, 'models'), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name)) {
      assert.ok(models.has(demo), `no job example for ${demo}`);
    }
  });

  test('each example is accepted (2xx), and each job example finishes with a result', async () => {
    // Label examples name a job of the reader's: here, a job just run.
    const scored = (await (await fetch(`${stack.baseUrl}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json', prefer: 'wait=30' }, body: JSON.stringify({ model: 'fraud-risk', features: TRANSACTION }) })).json()) as { job_id: string };
    for (const { url, method, type, examples } of examplesOf()) {
      for (const [name, original] of examples) {
        const example = { value: JSON.parse(JSON.stringify(original.value).replaceAll(EXAMPLE_JOB_ID, scored.job_id)) as unknown };
        const target = url.replace('/v1/schedules/{name}', `/v1/schedules/${SCHEDULE_NAME}`).replace(/\{(\w+)\}/g, (_, param: string) => PATH_PARAMETERS[param] as string);
        const raw = typeof example.value === 'string';
        const res = await fetch(`${stack.baseUrl}${target}${raw ? QUERY_FOR_RAW_BODIES : ''}`, {
          method: method.toUpperCase(),
          headers: { 'content-type': type, ...(url === '/v1/jobs' ? { prefer: 'wait=30' } : {}) },
          body: raw ? (example.value as string) : JSON.stringify(example.value),
        });
        const text = await res.text();
        const label = `${method.toUpperCase()} ${url} (${type}) example ${name}: ${res.status} ${text.slice(0, 400)}`;
        assert.ok(res.status >= 200 && res.status < 300, label);
        const body = JSON.parse(text);
        if (url === '/v1/jobs') {
          assert.equal(body.status, 'succeeded', label);
          assert.ok(body.result && typeof body.result === 'object', label);
        }
        if (url === '/v1/jobs/bulk') for (const job of body.jobs) assert.ok(job.job_id, label);
      }
    }
  });
});

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { pipelineManifestSchema } from '../../packages/inference/src/pipeline-manifest.ts';

const shipped = JSON.parse(readFileSync(new URL('../../models/document-ocr/1/pipeline.json', import.meta.url), 'utf8'));

const issues = (value: unknown) => {
  const parsed = pipelineManifestSchema.safeParse(value);
  return parsed.success ? [] : parsed.error.issues.map((i) => i.message);
};

test('the shipped document-ocr pipeline is valid, with its defaults filled in', () => {
  const pipeline = pipelineManifestSchema.parse(shipped);
  assert.deepEqual(pipeline.stages.map((s) => s.model), ['text-detection', 'text-orientation', 'textline-ocr']);
  assert.equal(pipeline.stages[1]?.turns?.min_confidence, 0.9);
  assert.deepEqual(pipeline.stages[2]?.input, { crops_of: 'detection', turned_by: 'orientation', margin: 0.4 });
});

test('stages may only read the page or the crops of an earlier page stage, and be turned by an earlier turning stage', () => {
  const [detection, orientation, recognition] = shipped.stages;
  assert.match(issues({ ...shipped, stages: [orientation, detection, recognition] }).join(), /the first stage reads the request/);
  assert.match(issues({ ...shipped, stages: [detection, { ...orientation, input: { crops_of: 'nowhere' } }, recognition] }).join(), /crops_of names nowhere/);
  assert.match(issues({ ...shipped, stages: [detection, { ...orientation, turns: undefined }, recognition] }).join(), /turned_by names orientation/);
  assert.match(issues({ ...shipped, stages: [detection, orientation, { ...recognition, name: 'orientation' }] }).join(), /named twice/);
  assert.match(issues({ ...shipped, result: { ...shipped.result, text: 'detection' } }).join(), /result.text names detection/);
});

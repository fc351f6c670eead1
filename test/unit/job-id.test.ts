import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BATCH_ID_PATTERN, newBatchId, newJobId, parseJobId, tenantTag } from '../../packages/core/src/job-id.ts';
import { ownerModel } from '../../packages/core/src/keyspace.ts';

describe('job ids', () => {
  test('ids are unique across the pooled randomness, sort by creation time, and name model and tenant', async () => {
    const ids = Array.from({ length: 20_000 }, () => newJobId('fraud-risk', 'acme'));
    assert.equal(new Set(ids).size, ids.length, 'no id repeats when the entropy pool refills');
    await new Promise((r) => setTimeout(r, 5));
    const later = newJobId('fraud-risk', 'acme');
    assert.ok(ids.every((id) => id.slice(0, 21) <= later.slice(0, 21)), 'the time part sorts');
    assert.deepEqual({ ...parseJobId(later), bundleId: undefined, index: undefined }, { model: 'fraud-risk', tag: tenantTag('acme'), bundleId: undefined, index: undefined });
    const batchId = newBatchId('fraud-risk');
    assert.match(batchId, /^batch-fraud-risk-[0-9A-HJKMNP-TV-Z]{26}$/);
    assert.match(batchId, BATCH_ID_PATTERN);
    assert.equal(ownerModel(batchId), 'fraud-risk', 'a batch id names its model');
    assert.equal(ownerModel(`${batchId}:17`), 'fraud-risk', 'so does a batch row id');
    assert.equal(ownerModel(later), 'fraud-risk', 'a request id names its model');
  });

  test('a tenant always gets the same tag, and tenants rarely share one', () => {
    assert.equal(tenantTag('acme'), tenantTag('acme'));
    const tags = new Set(Array.from({ length: 1000 }, (_, i) => tenantTag(`tenant-${i}`)));
    assert.ok(tags.size >= 999, `${tags.size} distinct tags for 1000 tenants`);
  });
});

describe('request ids', () => {
  test('a request id keeps the job-id shape and names its bundle and its place in it', async () => {
    const { newBundleId, requestId, MAX_BUNDLE_REQUESTS } = await import('../../packages/core/src/job-id.ts');
    const bundle = newBundleId('fraud-risk', 'acme');
    for (const index of [0, 1, 31, 32, 1000, MAX_BUNDLE_REQUESTS - 1]) {
      const id = requestId(bundle, index);
      assert.match(id, /^fraud-risk\.[0-9A-Z]{32}$/);
      assert.deepEqual(parseJobId(id), { model: 'fraud-risk', tag: tenantTag('acme'), bundleId: bundle, index });
    }
    assert.throws(() => requestId(bundle, MAX_BUNDLE_REQUESTS), RangeError);
    assert.notEqual(requestId(bundle, 1), requestId(bundle, 2));
  });
});

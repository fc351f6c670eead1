import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { newBundleId, parseJobId } from '../../packages/core/src/job-id.ts';
import { BundleCommitter, type SealedBundle } from '../../apps/api/src/services/bundle-committer.ts';

/** A send that the test completes by hand, so it controls when an add is "in flight". */
function manualSend() {
  const sent: { key: string; bundles: SealedBundle<string>[]; done: () => void; fail: (e: Error) => void }[] = [];
  const send = (key: string, bundles: SealedBundle<string>[]) => new Promise<void>((done, fail) => sent.push({ key, bundles, done, fail }));
  return { sent, send };
}

const tick = () => new Promise((r) => setImmediate(r));
const LIMITS = { maxRows: 64, maxBytes: 1 << 20 };

describe('BundleCommitter: group commit of queue adds', () => {
  test('at low load a request is a bundle of one, sent in the turn it arrived', async () => {
    const { sent, send } = manualSend();
    const committer = new BundleCommitter<string>(send, () => newBundleId('m', 't'));
    const slot = committer.reserve('k', LIMITS, 1, 10);
    const committed = slot.commit('a');
    await tick();
    assert.equal(sent.length, 1);
    assert.deepEqual(sent[0]?.bundles.map((b) => b.items), [['a']]);
    assert.equal(parseJobId(slot.jobId)?.bundleId, sent[0]?.bundles[0]?.id, 'the request id names its bundle');
    assert.equal(parseJobId(slot.jobId)?.index, 0);
    sent[0]?.done();
    await committed;
  });

  test('requests arriving while an add is in flight join the next bundle, sent when that add returns', async () => {
    const { sent, send } = manualSend();
    const committer = new BundleCommitter<string>(send, () => newBundleId('m', 't'));
    const first = committer.reserve('k', LIMITS, 1, 10).commit('a');
    await tick();
    const later = ['b', 'c', 'd'].map((item) => committer.reserve('k', LIMITS, 1, 10).commit(item));
    await tick();
    assert.equal(sent.length, 1, 'one add in flight per key');
    sent[0]?.done();
    await first;
    await tick();
    assert.equal(sent.length, 2);
    assert.deepEqual(sent[1]?.bundles.map((b) => b.items), [['b', 'c', 'd']]);
    sent[1]?.done();
    await Promise.all(later);
  });

  test('a bundle stops at its row and byte limits; different keys never wait for each other', async () => {
    const { sent, send } = manualSend();
    const committer = new BundleCommitter<string>(send, () => newBundleId('m', 't'));
    const rows = [40, 20, 10, 64];
    const waits = rows.map((r, i) => committer.reserve('k', LIMITS, r, 10).commit(`r${i}`));
    const other = committer.reserve('other', LIMITS, 1, 10).commit('o');
    await tick();
    const forK = sent.find((s) => s.key === 'k');
    assert.deepEqual(forK?.bundles.map((b) => b.items), [['r0', 'r1'], ['r2'], ['r3']], '40+20 fit in 64 rows; 10 does not fit beside them; 64 is a bundle of its own');
    assert.ok(sent.some((s) => s.key === 'other'));
    for (const s of sent) s.done();
    await Promise.all([...waits, other]);
    const bytes = new BundleCommitter<string>(send, () => newBundleId('m', 't'));
    const big = [bytes.reserve('b', { maxRows: 64, maxBytes: 100 }, 1, 60).commit('x'), bytes.reserve('b', { maxRows: 64, maxBytes: 100 }, 1, 60).commit('y')];
    await tick();
    assert.deepEqual(sent.at(-1)?.bundles.map((b) => b.items), [['x'], ['y']]);
    sent.at(-1)?.done();
    await Promise.all(big);
  });

  test('a bundle waits for its undecided places; a withdrawn place is left out; a failed add fails each of its requests', async () => {
    const { sent, send } = manualSend();
    const committer = new BundleCommitter<string>(send, () => newBundleId('m', 't'));
    const a = committer.reserve('k', LIMITS, 1, 10);
    const b = committer.reserve('k', LIMITS, 1, 10);
    const c = committer.reserve('k', LIMITS, 1, 10);
    const aDone = a.commit('a');
    await tick();
    assert.equal(sent.length, 0, 'b and c are still deciding (an idempotency check in flight)');
    b.withdraw();
    const cDone = c.commit('c');
    await tick();
    assert.deepEqual(sent[0]?.bundles[0]?.items, ['a', 'c']);
    assert.equal(parseJobId(c.jobId)?.index, 2, 'places keep their index; a withdrawn one leaves a gap');
    sent[0]?.fail(new Error('redis down'));
    await assert.rejects(aDone, /redis down/);
    await assert.rejects(cDone, /redis down/);
    assert.throws(() => b.withdraw(), /already withdrawn/);
  });
});

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { summarize, type VersionHealth } from '../../packages/core/src/health-window.ts';
import { judge, judgeLabelled, rolledBack, stableAndCanaries } from '../../apps/api/src/routing/guardrails.ts';
import { route, stickyPoint, versionAt } from '../../apps/api/src/routing/router.ts';
import { routingPolicySchema, type Guardrails } from '../../packages/routing/src/routing-policy.ts';
import { sameAnswer } from '../../apps/worker/src/shadow-log.ts';

const GUARDRAILS: Guardrails = { enabled: true, min_samples: 50, max_p95_inference_delta_ms: 20, max_error_rate_ratio: 2, min_error_rate: 0.01, min_labelled: 100, max_accuracy_drop: null };

function health(requests: number, errors: number, p95: number): VersionHealth {
  return { requests, errors, error_rate: errors / requests, queue_ms: { p50: 1, p95: 2 }, inference_ms: { p50: p95 / 2, p95 } };
}

describe('router', () => {
  test('versionAt lays the weights out in version order over [0, 100)', () => {
    const weights = { '10': 10, '2': 90 };
    assert.equal(versionAt(weights, 0), '2');
    assert.equal(versionAt(weights, 89.999), '2');
    assert.equal(versionAt(weights, 90), '10');
    assert.equal(versionAt(weights, 99.999), '10');
    assert.equal(versionAt({ '1': 0, '2': 100 }, 0), '2', 'weight 0 takes nothing');
  });

  test('a routing key always lands on the same version; keys spread by weight', () => {
    const policy = { weights: { '1': 50, '2': 50 } };
    const all = () => true;
    for (const key of ['user-1', 'user-2', 'x']) {
      const first = route(policy, key, all, undefined);
      assert.equal(first?.routed_by, 'sticky');
      for (let i = 0; i < 20; i++) assert.deepEqual(route(policy, key, all, undefined), first);
    }
    const points = Array.from({ length: 4000 }, (_, i) => stickyPoint(`user-${i}`));
    assert.ok(points.every((p) => p >= 0 && p < 100));
    const low = points.filter((p) => p < 50).length;
    // Binomial(4000, 0.5): sd ≈ 31.6; 5 sd either side.
    assert.ok(Math.abs(low - 2000) < 160, `${low} of 4000 keys below 50`);
  });

  test('unavailable versions go to the fallback, then to the default', () => {
    const policy = { weights: { '1': 100 }, fallback: '2' };
    assert.deepEqual(route(policy, undefined, (v) => v !== '1', '3'), { version: '2', routed_by: 'fallback' });
    assert.deepEqual(route({ weights: { '1': 100 } }, undefined, () => false, '3'), { version: '3', routed_by: 'weight' });
    assert.deepEqual(route(policy, undefined, () => true, '3', () => 0.5), { version: '1', routed_by: 'weight' });
  });

  test('the policy schema wants weights summing to 100 and an unweighted shadow', () => {
    assert.ok(routingPolicySchema.safeParse({ weights: { '1': 95, '2': 5 }, shadow: '3', fallback: '1' }).success);
    assert.ok(!routingPolicySchema.safeParse({ weights: { '1': 95, '2': 4 } }).success);
    assert.ok(!routingPolicySchema.safeParse({ weights: { '1': 50, '2': 50 }, shadow: '2' }).success);
    assert.ok(!routingPolicySchema.safeParse({ weights: { '1': 100 }, colour: 'red' }).success);
  });
});

describe('guardrails', () => {
  const policy = { weights: { '1': 90, '2': 10 } };

  test('stable is the heaviest version, canaries the other weighted ones', () => {
    assert.deepEqual(stableAndCanaries({ weights: { '1': 10, '2': 90, '3': 0 } }), { stable: '2', canaries: ['1'] });
    assert.deepEqual(stableAndCanaries({ weights: { '2': 50, '1': 50 } }), { stable: '1', canaries: ['2'] });
    assert.equal(stableAndCanaries({ weights: { '1': 100 } }), undefined);
  });

  test('a slow canary is rolled back once both have the minimum samples', () => {
    assert.deepEqual(judge(policy, new Map([['1', health(500, 0, 1)], ['2', health(49, 0, 80)]]), GUARDRAILS), [], 'too few canary samples');
    const [rollback] = judge(policy, new Map([['1', health(500, 0, 1)], ['2', health(50, 0, 80)]]), GUARDRAILS);
    assert.equal(rollback?.reason, 'p95_inference_latency');
    assert.equal(rollback?.canary, '2');
    assert.deepEqual(judge(policy, new Map([['1', health(500, 0, 1)], ['2', health(50, 0, 20)]]), GUARDRAILS), [], 'within 20 ms');
    assert.deepEqual(rolledBack(policy, [rollback!]).weights, { '1': 100, '2': 0 });
  });

  test('an erring canary is rolled back past twice the stable rate and the floor', () => {
    assert.equal(judge(policy, new Map([['1', health(1000, 10, 1)], ['2', health(100, 21, 1)]]), GUARDRAILS)[0]?.reason, 'error_rate');
    assert.deepEqual(judge(policy, new Map([['1', health(1000, 100, 1)], ['2', health(100, 19, 1)]]), GUARDRAILS), []);
    assert.deepEqual(judge(policy, new Map([['1', health(1000, 0, 1)], ['2', health(100, 1, 1)]]), GUARDRAILS), [], 'one error is under the floor');
    assert.deepEqual(judge(policy, new Map([['1', health(1000, 0, 1)], ['2', health(100, 50, 1)]]), { ...GUARDRAILS, enabled: false }), []);
  });

  test('a canary whose labelled accuracy drops past the margin is rolled back, with both versions\' figures', () => {
    const figures = (labelled: number, accuracy: number) => ({ labelled, accuracy, precision: null, recall: null, log_loss: null });
    const withDrop = { ...GUARDRAILS, max_accuracy_drop: 0.05 };
    assert.deepEqual(judgeLabelled(policy, new Map([['1', figures(500, 0.9)], ['2', figures(500, 0.6)]]), GUARDRAILS), [], 'off unless max_accuracy_drop is set');
    assert.deepEqual(judgeLabelled(policy, new Map([['1', figures(500, 0.9)], ['2', figures(99, 0.6)]]), withDrop), [], 'too few labelled');
    assert.deepEqual(judgeLabelled(policy, new Map([['1', figures(500, 0.9)], ['2', figures(500, 0.86)]]), withDrop), [], 'within the margin');
    const [rollback] = judgeLabelled(policy, new Map([['1', figures(500, 0.9)], ['2', figures(100, 0.8)]]), withDrop);
    assert.equal(rollback?.reason, 'labelled_accuracy');
    assert.equal(rollback?.canary, '2');
    assert.deepEqual(rollback?.numbers.canary, figures(100, 0.8));
    assert.deepEqual(rollback?.numbers.stable, figures(500, 0.9));
  });

  test('health summaries: counts, error rate, nearest-rank percentiles kept apart', () => {
    const members = Array.from({ length: 100 }, (_, i) => `${i}:${i < 10 ? 0 : 1}:${i}:${i < 10 ? '' : 100 - i}:x`);
    const h = summarize(members);
    assert.equal(h.requests, 100);
    assert.equal(h.errors, 10);
    assert.equal(h.error_rate, 0.1);
    assert.deepEqual(h.queue_ms, { p50: 49, p95: 94 });
    assert.deepEqual(h.inference_ms, { p50: 45, p95: 86 }, 'over the 90 samples that ran (1..90)');
    assert.deepEqual(summarize([]).inference_ms, { p50: null, p95: null });
  });
});

describe('shadow comparison', () => {
  test('answers agree within a small tolerance, labels exactly', () => {
    assert.ok(sameAnswer({ probability: 0.91234, label: 'fraud' }, { label: 'fraud', probability: 0.91236 }));
    assert.ok(!sameAnswer({ probability: 0.9, label: 'fraud' }, { probability: 0.9, label: 'legit' }));
    assert.ok(!sameAnswer({ outputs: [{ data: [1, 2] }] }, { outputs: [{ data: [1, 2.5] }] }));
    assert.ok(!sameAnswer([1, 2], [1, 2, 3]));
  });
});

import { z } from 'zod';
import { MODEL_VERSION_PATTERN } from '@inferq/inference/manifest';

const versionName = z.string().regex(MODEL_VERSION_PATTERN, 'a version name');

/**
 * When a canary is rolled back: its p95 inference time exceeds the stable version's by more than
 * `max_p95_inference_delta_ms`, or its error rate exceeds both `max_error_rate_ratio` times the
 * stable's and `min_error_rate`; judged only once both have `min_samples` requests in the window
 * since the policy last changed. With labels (POST /v1/labels), a canary is also rolled back when
 * its labelled accuracy falls below the stable version's by more than `max_accuracy_drop`
 * (absolute, 0..1; null: never), once both have `min_labelled` labelled predictions made since
 * the policy last changed. Omitted fields take the INFERQ_GUARDRAIL_* defaults.
 */
export const guardrailsSchema = z.strictObject({
  enabled: z.boolean().optional(),
  min_samples: z.number().int().min(1).max(10_000_000).optional(),
  max_p95_inference_delta_ms: z.number().min(0).max(3_600_000).optional(),
  max_error_rate_ratio: z.number().min(1).max(1_000_000).optional(),
  min_error_rate: z.number().min(0).max(1).optional(),
  min_labelled: z.number().int().min(1).max(10_000_000).optional(),
  max_accuracy_drop: z.number().min(0).max(1).nullable().optional(),
});
export type GuardrailsInput = z.infer<typeof guardrailsSchema>;
export type Guardrails = Required<GuardrailsInput>;

/** A model's routing policy, as PUT /v1/models/{name}/routing takes it and routing.json holds it. */
export const routingPolicySchema = z
  .strictObject({
    /** Percent of routed traffic per version; they sum to 100. Weight 0 keeps a version listed but idle. */
    weights: z.record(versionName, z.number().min(0).max(100)),
    /** Scores a copy of every routed job; its answer is logged beside the primary's, never returned. */
    shadow: versionName.nullable().optional(),
    /** Re-runs a routed job whose version failed for an infrastructure reason. */
    fallback: versionName.nullable().optional(),
    guardrails: guardrailsSchema.optional(),
  })
  .superRefine((p, ctx) => {
    const total = Object.values(p.weights).reduce((a, b) => a + b, 0);
    if (Math.abs(total - 100) > 1e-6) ctx.addIssue({ code: 'custom', message: `weights sum to ${total}, not 100`, path: ['weights'] });
    if (p.shadow && (p.weights[p.shadow] ?? 0) > 0) ctx.addIssue({ code: 'custom', message: `shadow ${p.shadow} also takes weighted traffic`, path: ['shadow'] });
  });
export type RoutingPolicy = z.infer<typeof routingPolicySchema>;

/** Who last set a policy: the model repository (seed), an operator, the guardrails, or nobody. */
export type PolicySource = 'default' | 'repository' | 'admin' | 'guardrail';

export interface StoredPolicy {
  policy: RoutingPolicy;
  /** Grows by one with every change; 0 for the default policy, which is never stored. */
  revision: number;
  source: PolicySource;
  updated_at: string;
}

/** What a model routes by when no policy is stored: everything to the newest available version. */
export function defaultPolicy(newest: string | undefined): StoredPolicy {
  return { policy: { weights: newest ? { [newest]: 100 } : {} }, revision: 0, source: 'default', updated_at: new Date(0).toISOString() };
}

/** Versions a policy sends traffic to, shadows, or falls back on. */
export function referencedVersions(policy: RoutingPolicy): string[] {
  const versions = Object.entries(policy.weights).filter(([, w]) => w > 0).map(([v]) => v);
  if (policy.shadow) versions.push(policy.shadow);
  if (policy.fallback) versions.push(policy.fallback);
  return [...new Set(versions)];
}

export function effectiveGuardrails(policy: RoutingPolicy, defaults: Guardrails): Guardrails {
  return { ...defaults, ...Object.fromEntries(Object.entries(policy.guardrails ?? {}).filter(([, v]) => v !== undefined)) };
}

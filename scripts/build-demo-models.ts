/**
 * Builds the demo and test-fixture ONNX models from scratch, deterministically:
 *
 *   models/fraud-risk/1             logistic regression on synthetic transactions
 *   models/fraud-risk/2             8-16-1 MLP on the same data
 *   models/wide-mlp/1               random-weight 64->1024x3->16 MLP for throughput demos
 *   test/fixtures/models/lookup/1   Gather fixture whose run fails for ids >= 16
 *   test/fixtures/models/canary/N   routing fixture: 1 stable, 2 fails ids 8..15, 3 slow
 *   test/fixtures/models/two-heads/1  two outputs of one input (copy, negated), for named outputs
 *   test/fixtures/models/scorer/N   prediction-quality fixture: 1 right, 2 inverted (wrong on purpose)
 *
 * Each version directory gets model.onnx and a model.json whose sha256 pins it.
 * All randomness is seeded, so a re-run rewrites byte-identical files.
 *
 * Usage: npx tsx scripts/build-demo-models.ts [--out-dir DIR]   (default: repo root)
 */
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { buildFraudModels } from './demo-models/fraud-risk.ts';
import { buildCanary } from './demo-models/canary.ts';
import { buildLookup } from './demo-models/lookup.ts';
import { buildTwoHeads } from './demo-models/two-heads.ts';
import { buildScorer } from './demo-models/scorer.ts';
import { smokeCheck, type SmokeCheck } from './demo-models/smoke-check.ts';
import { buildWideMlp } from './demo-models/wide-mlp.ts';
import type { WrittenModel } from './demo-models/write-model.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { 'out-dir': { type: 'string' } }, strict: true });
  const outDir = resolve(values['out-dir'] ?? repoRoot);

  const fraud = buildFraudModels(outDir);
  for (const { written, metrics: m } of fraud) {
    console.log(
      `${written.relDir}: train accuracy ${m.trainAccuracy.toFixed(4)} AUC ${m.trainAuc.toFixed(4)} | ` +
        `holdout accuracy ${m.holdoutAccuracy.toFixed(4)} AUC ${m.holdoutAuc.toFixed(4)}`,
    );
  }
  const built: { written: WrittenModel; check: SmokeCheck; quietRunErrors?: boolean }[] = [...fraud, buildWideMlp(outDir), buildLookup(outDir), ...buildCanary(outDir), buildTwoHeads(outDir), ...buildScorer(outDir)];

  for (const { written, check, quietRunErrors } of built) {
    const summary = await smokeCheck(written, check, quietRunErrors);
    console.log(
      `${relative(process.cwd(), written.modelPath)}: ${written.bytes} bytes, sha256 ${written.sha256}\n  smoke check ok: ${summary}`,
    );
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { RISKY_TRANSACTION, wideMlpInput } from '../../test/support/http.ts';
import { REPO_ROOT } from '../../test/support/services.ts';

/** A single-row tabular job in the `features` form, as a client would send it. */
export const fraudJob = { model: 'fraud-risk', features: RISKY_TRANSACTION };

/** A wide-mlp tensor job of `rows` rows (x FP32 [rows, 64]). */
export function wideMlpJob(rows: number) {
  return { model: 'wide-mlp', inputs: wideMlpInput(rows) };
}

export interface ServedVersion {
  version: string;
  modelPath: string;
  maxBatchSize: number;
  maxWaitMs: number;
  /** The manifest's `features` block: the input a `features` job fills, and the column order. */
  features?: { input: string; names: string[] };
}

/** The version a job that names none runs on (the newest), with the manifest's batching settings. */
export function servedVersion(model: string): ServedVersion {
  const dir = path.join(REPO_ROOT, 'models', model);
  const versions = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
  const version = versions.sort((a, b) => a.localeCompare(b, 'en', { numeric: true })).at(-1);
  if (!version) throw new Error(`no versions of ${model} in ${dir}`);
  const manifest = JSON.parse(readFileSync(path.join(dir, version, 'model.json'), 'utf8')) as { max_batch_size?: number; max_wait_ms?: number; artifact?: unknown; features?: { input: string; names: string[] } };
  return {
    version,
    modelPath: path.join(dir, version, typeof manifest.artifact === 'string' ? manifest.artifact : 'model.onnx'),
    maxBatchSize: manifest.max_batch_size ?? 32,
    maxWaitMs: manifest.max_wait_ms ?? 5,
    ...(manifest.features ? { features: manifest.features } : {}),
  };
}

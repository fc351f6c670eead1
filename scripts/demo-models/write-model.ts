/** Writes one model version directory: model.onnx plus a model.json that pins its sha256. */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { z } from 'zod';
import { manifestSchema, type ModelManifest } from '@inferq/inference/manifest';

/** What a builder supplies; the sha256 is computed here from the bytes actually written. */
export type ManifestDraft = Omit<z.input<typeof manifestSchema>, 'sha256' | 'artifact'>;

export interface WrittenModel {
  /** Repository-relative version directory, e.g. models/fraud-risk/1. */
  relDir: string;
  modelPath: string;
  manifestPath: string;
  bytes: number;
  sha256: string;
  manifest: ModelManifest;
}

export function writeModel(outDir: string, relDir: string, onnxBytes: Uint8Array, draft: ManifestDraft): WrittenModel {
  const dir = join(outDir, relDir);
  mkdirSync(dir, { recursive: true });
  const modelPath = join(dir, 'model.onnx');
  writeFileSync(modelPath, onnxBytes);
  const sha256 = createHash('sha256').update(onnxBytes).digest('hex');

  // Spelled out so the file reads top-down: what it is, which bytes, then the tensors and serving knobs.
  const { description, task, ...rest } = draft;
  const json = { description, task, artifact: 'model.onnx', sha256, ...rest };
  // Validate before writing so a schema change breaks the build, not the first server start.
  const manifest = manifestSchema.parse(json);
  const manifestPath = join(dir, 'model.json');
  writeFileSync(manifestPath, `${JSON.stringify(json, null, 2)}\n`);
  return { relDir, modelPath, manifestPath, bytes: onnxBytes.length, sha256, manifest };
}

import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { open, readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { resolveFileRef } from './file-ref.ts';
import { manifestSchema, MODEL_NAME_PATTERN, MODEL_VERSION_PATTERN, type ModelManifest } from './manifest.ts';
import { pipelineManifestSchema, pipelineModelManifest, type PipelineManifest } from './pipeline-manifest.ts';

/** `unloaded`: an operator unloaded it (DELETE /v1/models/{name}/versions/{version}); it takes no jobs again. */
export type VersionState = 'available' | 'refused' | 'unloaded';

/** One `models/<name>/<version>/` directory, checked. */
export interface ModelVersionEntry {
  name: string;
  version: string;
  dir: string;
  /** Absent when the manifest itself could not be read. */
  manifest: ModelManifest | undefined;
  artifactPath: string | undefined;
  /** `refused`: bad manifest, missing artifact or sha256 mismatch; it never takes jobs. */
  state: VersionState;
  reason: string | undefined;
  /**
   * Set when the directory holds a `pipeline.json` instead of a model: its stages run as requests
   * on other models' queues. `manifest` is then what the API checks its requests against.
   */
  pipeline?: PipelineManifest;
}

export interface ModelEntry {
  name: string;
  /** Sorted oldest to newest (numeric where versions are numbers). */
  versions: ModelVersionEntry[];
}

export interface LoadRepositoryOptions {
  /** Only these model names (all when empty). Default: all. */
  only?: readonly string[];
  /** Hash every artifact and refuse mismatches. Default: true. */
  verifyChecksums?: boolean;
}

export function compareVersions(a: string, b: string): number {
  const na = Number(a);
  const nb = Number(b);
  if (Number.isFinite(na) && Number.isFinite(nb)) return na - nb;
  return a.localeCompare(b, 'en', { numeric: true });
}

/**
 * Hashes through one reused buffer: a read stream would leave a fresh 64 KiB buffer per chunk to
 * the garbage collector (20 MB for the demo models), which an API at start keeps as resident memory.
 */
export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.allocUnsafe(256 * 1024);
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
    }
  } finally {
    await handle.close();
  }
  return hash.digest('hex');
}

/** Checks one version directory: manifest, artifact, sha256 (when `verify`). Never throws: a bad one comes back refused. */
export async function checkVersion(name: string, version: string, dir: string, verify = true): Promise<ModelVersionEntry> {
  const refused = (reason: string, manifest?: ModelManifest, artifactPath?: string): ModelVersionEntry => ({
    name, version, dir, manifest, artifactPath, state: 'refused', reason,
  });
  const pipelineFile = path.join(dir, 'pipeline.json');
  if (!existsSync(path.join(dir, 'model.json')) && existsSync(pipelineFile)) return checkPipeline(name, version, dir, pipelineFile);
  let manifest: ModelManifest;
  try {
    // One parse per version: zod's compiled fast path would cost more to build (and keep) than it saves.
    const parsed = manifestSchema.safeParse(JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8')), { jitless: true });
    if (!parsed.success) {
      return refused(`model.json is invalid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    }
    manifest = parsed.data;
  } catch (error) {
    return refused(`model.json could not be read: ${(error as Error).message}`);
  }
  let artifactPath: string;
  try {
    artifactPath = resolveFileRef(dir, manifest.artifact);
  } catch (error) {
    return refused(`artifact not found: ${(error as Error).message}`, manifest);
  }
  if (manifest.postprocess?.kind === 'ctc-greedy') {
    try {
      resolveFileRef(dir, manifest.postprocess.dictionary);
    } catch (error) {
      return refused(`dictionary not found: ${(error as Error).message}`, manifest, artifactPath);
    }
  }
  if (verify) {
    let actual: string;
    try {
      actual = await sha256File(artifactPath);
    } catch (error) {
      return refused(`artifact could not be read: ${(error as Error).message}`, manifest, artifactPath);
    }
    if (actual !== manifest.sha256) {
      return refused(`sha256 mismatch: manifest says ${manifest.sha256}, artifact is ${actual}`, manifest, artifactPath);
    }
  }
  return { name, version, dir, manifest, artifactPath, state: 'available', reason: undefined };
}

/** A pipeline version: its `pipeline.json` parsed; the models its stages name are checked where it runs. */
async function checkPipeline(name: string, version: string, dir: string, file: string): Promise<ModelVersionEntry> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    return { name, version, dir, manifest: undefined, artifactPath: undefined, state: 'refused', reason: `pipeline.json could not be read: ${(error as Error).message}` };
  }
  let parsed;
  try {
    parsed = pipelineManifestSchema.safeParse(JSON.parse(text), { jitless: true });
  } catch (error) {
    return { name, version, dir, manifest: undefined, artifactPath: file, state: 'refused', reason: `pipeline.json is not JSON: ${(error as Error).message}` };
  }
  if (!parsed.success) {
    const reason = `pipeline.json is invalid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`;
    return { name, version, dir, manifest: undefined, artifactPath: file, state: 'refused', reason };
  }
  const sha256 = createHash('sha256').update(text).digest('hex');
  return { name, version, dir, manifest: pipelineModelManifest(parsed.data, sha256), artifactPath: file, state: 'available', reason: undefined, pipeline: parsed.data };
}

/** Directories, following symlinks: a repository often links models kept elsewhere. */
async function subdirectories(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const isDir = await Promise.all(
    entries.map(async (e) => !e.name.startsWith('.') && (e.isDirectory() || (e.isSymbolicLink() && (await stat(path.join(dir, e.name)).catch(() => undefined))?.isDirectory() === true))),
  );
  return entries.filter((_, i) => isDir[i]).map((e) => e.name);
}

/**
 * Reads a Triton-style model repository. Directories whose names are not valid model or version
 * names are skipped; a version that fails its checks is kept, refused, with the reason, so that
 * `/v1/models` can say why it takes no traffic.
 */
export async function loadModelRepository(root: string, options: LoadRepositoryOptions = {}): Promise<Map<string, ModelEntry>> {
  const verify = options.verifyChecksums ?? true;
  const only = options.only && options.only.length > 0 ? new Set(options.only) : undefined;
  const models = new Map<string, ModelEntry>();
  const names = (await subdirectories(root)).filter((n) => MODEL_NAME_PATTERN.test(n) && (!only || only.has(n))).sort();
  for (const name of names) {
    const versionNames = (await subdirectories(path.join(root, name))).filter((v) => MODEL_VERSION_PATTERN.test(v)).sort(compareVersions);
    const versions = await Promise.all(versionNames.map((v) => checkVersion(name, v, path.join(root, name, v), verify)));
    if (versions.length > 0) models.set(name, { name, versions });
  }
  if (only) {
    const missing = [...only].filter((n) => !models.has(n));
    if (missing.length > 0) throw new Error(`INFERQ_MODELS names models not in ${root}: ${missing.join(', ')}`);
  }
  return models;
}

/** A model's version directory names, oldest to newest (nothing is read or hashed). */
export async function listVersions(root: string, name: string): Promise<string[]> {
  return (await subdirectories(path.join(root, name))).filter((v) => MODEL_VERSION_PATTERN.test(v)).sort(compareVersions);
}

/** The newest available version: what a job that names no version runs on. */
export function defaultVersion(entry: ModelEntry): ModelVersionEntry | undefined {
  return entry.versions.filter((v) => v.state === 'available').at(-1);
}

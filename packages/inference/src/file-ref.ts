import { existsSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { FileRef } from './manifest.ts';

/**
 * Resolves a manifest file reference from a model version directory. Package references are
 * looked up the way Node finds packages from that directory; a package whose `exports` hide its
 * data files (common for model packages) is found through the same node_modules search path.
 */
export function resolveFileRef(versionDir: string, ref: FileRef): string {
  if (typeof ref === 'string') return path.resolve(versionDir, ref);
  // From the real directory: a repository linked in from elsewhere finds the packages installed beside it.
  const require = createRequire(path.join(realpathSync(versionDir), 'model.json'));
  try {
    return require.resolve(`${ref.package}/${ref.path}`);
  } catch (error) {
    for (const nodeModules of require.resolve.paths(ref.package) ?? []) {
      const candidate = path.join(nodeModules, ref.package, ref.path);
      if (existsSync(candidate)) return candidate;
    }
    throw new Error(`${ref.package}/${ref.path} is not installed (npm install ${ref.package}): ${(error as Error).message.split('\n')[0]}`);
  }
}

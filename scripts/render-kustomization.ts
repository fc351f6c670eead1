/**
 * Renders a kustomization the way `kubectl kustomize` does, for the subset of kustomize that
 * deploy/kubernetes uses: `resources` (YAML files, or directories with their own
 * kustomization.yaml), `namespace`, `images` and JSON 6902 `patches` with a target. Anything else
 * is refused rather than ignored, so the output never silently differs from kustomize's.
 * The tests render the manifests with it where no kubectl is installed.
 *
 *   npx tsx scripts/render-kustomization.ts deploy/kubernetes/base > inferq.yaml
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments, stringify } from 'yaml';

export type Manifest = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; [key: string]: unknown }; [key: string]: unknown };

interface ImageOverride {
  name: string;
  newName?: string;
  newTag?: string;
  digest?: string;
}

interface PatchOperation {
  op: 'add' | 'replace' | 'remove';
  path: string;
  value?: unknown;
}

interface Patch {
  target: { group?: string; version?: string; kind?: string; name?: string };
  patch: string;
}

interface Kustomization {
  apiVersion?: string;
  kind?: string;
  namespace?: string;
  resources?: string[];
  images?: ImageOverride[];
  patches?: Patch[];
}

const SUPPORTED_FIELDS = new Set(['apiVersion', 'kind', 'namespace', 'resources', 'images', 'patches']);
/** Kinds kustomize leaves without a namespace. */
const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition', 'PriorityClass', 'StorageClass', 'PersistentVolume']);

/** Every object the kustomization in `dir` produces, in the order its resources list them. */
export function renderKustomization(dir: string): Manifest[] {
  const file = path.join(dir, 'kustomization.yaml');
  if (!existsSync(file)) throw new Error(`${dir}: no kustomization.yaml`);
  const kustomization = parse(readFileSync(file, 'utf8')) as Kustomization;
  const unsupported = Object.keys(kustomization).filter((key) => !SUPPORTED_FIELDS.has(key));
  if (unsupported.length > 0) throw new Error(`${file}: ${unsupported.join(', ')} not supported by this renderer (use kubectl kustomize)`);

  let manifests = (kustomization.resources ?? []).flatMap((entry) => {
    const resource = path.resolve(dir, entry);
    return statSync(resource).isDirectory() ? renderKustomization(resource) : readManifests(resource);
  });
  for (const patch of kustomization.patches ?? []) manifests = applyPatch(manifests, patch, file);
  if (kustomization.namespace) {
    for (const m of manifests) if (!CLUSTER_SCOPED.has(m.kind)) m.metadata.namespace = kustomization.namespace;
  }
  for (const image of kustomization.images ?? []) for (const m of manifests) overrideImage(m, image);
  return manifests;
}

function readManifests(file: string): Manifest[] {
  return parseAllDocuments(readFileSync(file, 'utf8')).flatMap((doc) => {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]?.message}`);
    const value = doc.toJS() as Manifest | null;
    return value === null ? [] : [value];
  });
}

function applyPatch(manifests: Manifest[], { target, patch }: Patch, file: string): Manifest[] {
  const operations = parse(patch) as PatchOperation[];
  if (!Array.isArray(operations)) throw new Error(`${file}: only JSON 6902 patches (a list of operations) are supported`);
  const matches = (m: Manifest) => {
    const [group, version] = m.apiVersion.includes('/') ? m.apiVersion.split('/') : ['', m.apiVersion];
    return (
      (target.group === undefined || target.group === group) &&
      (target.version === undefined || target.version === version) &&
      (target.kind === undefined || target.kind === m.kind) &&
      (target.name === undefined || target.name === m.metadata.name)
    );
  };
  const targets = manifests.filter(matches);
  if (targets.length === 0) throw new Error(`${file}: a patch matches no resource (${JSON.stringify(target)})`);
  for (const m of targets) for (const operation of operations) applyOperation(m, operation, file);
  return manifests;
}

/** One RFC 6902 operation (add, replace, remove) at a JSON pointer. */
function applyOperation(document: Manifest, { op, path: pointer, value }: PatchOperation, file: string): void {
  const keys = pointer.split('/').slice(1).map((k) => k.replace(/~1/g, '/').replace(/~0/g, '~'));
  const last = keys.pop();
  if (last === undefined) throw new Error(`${file}: cannot patch the whole document`);
  let parent: unknown = document;
  for (const key of keys) {
    parent = (parent as Record<string, unknown> | undefined)?.[key];
    if (parent === null || typeof parent !== 'object') throw new Error(`${file}: ${pointer} does not exist in ${document.kind} ${document.metadata.name}`);
  }
  if (!['add', 'replace', 'remove'].includes(op)) throw new Error(`${file}: patch operation ${String(op)} not supported`);
  if (op !== 'add' && !(last in (parent as object))) throw new Error(`${file}: ${op} ${pointer}: no such value in ${document.kind} ${document.metadata.name}`);
  if (Array.isArray(parent)) {
    const index = last === '-' ? parent.length : Number(last);
    if (op === 'remove') parent.splice(index, 1);
    else parent.splice(index, op === 'replace' ? 1 : 0, value);
    return;
  }
  const object = parent as Record<string, unknown>;
  if (op === 'remove') delete object[last];
  else object[last] = value;
}

/** kustomize's `images`: containers whose image is `name` (with any tag or digest) get the new reference. */
function overrideImage(manifest: Manifest, { name, newName, newTag, digest }: ImageOverride): void {
  const pod = (manifest.spec as { template?: { spec?: { containers?: { image?: string }[]; initContainers?: { image?: string }[] } } } | undefined)?.template?.spec;
  for (const container of [...(pod?.containers ?? []), ...(pod?.initContainers ?? [])]) {
    const image = container.image ?? '';
    const [reference, oldDigest] = image.split('@') as [string, string | undefined];
    const colon = reference.lastIndexOf(':');
    const hasTag = colon > reference.lastIndexOf('/');
    const imageName = hasTag ? reference.slice(0, colon) : reference;
    if (imageName !== name) continue;
    const oldTag = hasTag ? reference.slice(colon + 1) : undefined;
    const suffix = digest ? `@${digest}` : newTag ? `:${newTag}` : oldDigest ? `@${oldDigest}` : oldTag ? `:${oldTag}` : '';
    container.image = `${newName ?? name}${suffix}`;
  }
}

/** Multi-document YAML, as `kubectl kustomize` prints it. */
export function toYaml(manifests: readonly Manifest[]): string {
  return manifests.map((m) => stringify(m)).join('---\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dir = process.argv[2];
  if (!dir) {
    process.stderr.write('usage: npx tsx scripts/render-kustomization.ts <directory with kustomization.yaml>\n');
    process.exit(2);
  }
  process.stdout.write(toYaml(renderKustomization(dir)));
}

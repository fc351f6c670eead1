import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { Ajv, type ValidateFunction } from 'ajv';
import { parse, parseAllDocuments } from 'yaml';
import { Keyring } from '../../apps/api/src/auth/keyring.ts';
import { loadConfig } from '../../packages/core/src/config.ts';
import { createLogger } from '../../packages/core/src/logger.ts';
import { createApiMetrics } from '../../packages/metrics/src/metrics.ts';
import { renderKustomization, type Manifest } from '../../scripts/render-kustomization.ts';
import { tableRows } from '../support/markdown-table.ts';
import { REPO_ROOT } from '../support/services.ts';

const KUBERNETES_DIR = path.join(REPO_ROOT, 'deploy/kubernetes');
const BASE_DIR = path.join(KUBERNETES_DIR, 'base');
const SCALE_TO_ZERO_DIR = path.join(KUBERNETES_DIR, 'overlays/scale-to-zero');
const base = renderKustomization(BASE_DIR);
const scaleToZero = renderKustomization(SCALE_TO_ZERO_DIR);

// ---- the few fields of the Kubernetes and KEDA objects the cross-checks read ----

type Labels = Record<string, string>;
interface Probe {
  httpGet?: { path: string; port: number | string };
}
interface Container {
  name: string;
  image: string;
  command?: string[];
  ports?: { name?: string; containerPort: number }[];
  env?: { name: string; value?: string; valueFrom?: { resourceFieldRef?: { containerName?: string; resource: string; divisor?: string } } & Record<string, unknown> }[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  startupProbe?: Probe;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  lifecycle?: { preStop?: { sleep?: { seconds: number }; exec?: unknown } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: { runAsNonRoot?: boolean; readOnlyRootFilesystem?: boolean; allowPrivilegeEscalation?: boolean; capabilities?: { drop?: string[] } };
}
interface Deployment extends Manifest {
  spec: {
    selector: { matchLabels: Labels };
    template: {
      metadata: { labels: Labels };
      spec: { terminationGracePeriodSeconds?: number; securityContext?: { runAsNonRoot?: boolean }; containers: Container[] };
    };
  };
}
interface Trigger {
  type: string;
  name?: string;
  metricType?: string;
  metadata: Record<string, string>;
}
interface ScaledObject extends Manifest {
  spec: {
    scaleTargetRef: { name: string; kind?: string };
    minReplicaCount?: number;
    maxReplicaCount?: number;
    cooldownPeriod?: number;
    fallback?: { failureThreshold: number; replicas: number };
    triggers: Trigger[];
  };
}

const ofKind = <T extends Manifest>(manifests: readonly Manifest[], kind: string) => manifests.filter((m) => m.kind === kind) as T[];
const named = <T extends Manifest>(manifests: readonly Manifest[], kind: string, name: string) => {
  const found = manifests.find((m) => m.kind === kind && m.metadata.name === name);
  assert.ok(found, `${kind} ${name} is rendered`);
  return found as T;
};
const selects = (selector: Labels, labels: Labels) => Object.entries(selector).every(([k, v]) => labels[k] === v);
const component = (d: Deployment) => d.spec.template.metadata.labels['app.kubernetes.io/component'];
const deployments = ofKind<Deployment>(base, 'Deployment');
const apiDeployment = named<Deployment>(base, 'Deployment', 'inferq-api');
const workerDeployments = deployments.filter((d) => component(d) === 'worker');

/** A CPU quantity in cores: "2", "1500m", "0.5". */
function cpuCores(quantity: string): number {
  const cores = quantity.endsWith('m') ? Number(quantity.slice(0, -1)) / 1000 : Number(quantity);
  assert.ok(Number.isFinite(cores) && cores > 0, `${quantity} is a CPU quantity`);
  return cores;
}

/**
 * A resourceFieldRef as the kubelet resolves it: the container's own request or limit divided by
 * the divisor, rounded up (a CPU limit of 1500m with divisor 1 reads "2").
 */
function resourceField(container: Container, ref: { containerName?: string; resource: string; divisor?: string }): string {
  assert.ok(!ref.containerName || ref.containerName === container.name, `${container.name}: a resourceFieldRef of its own container`);
  const [kind, resource] = ref.resource.split('.') as ['limits' | 'requests', string];
  assert.equal(resource, 'cpu', `${container.name}: only CPU resourceFieldRefs are read here`);
  const quantity = container.resources?.[kind]?.[resource];
  assert.ok(quantity, `${container.name}: ${ref.resource} is set, so the value does not fall back to the node's`);
  return String(Math.ceil(cpuCores(quantity) / cpuCores(ref.divisor ?? '1')));
}

/** The environment a container starts with: envFrom sources in order, then `env` over them. */
function containerEnv(container: Container, manifests: readonly Manifest[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const source of container.envFrom ?? []) {
    if (source.configMapRef) Object.assign(env, named<Manifest & { data?: Labels }>(manifests, 'ConfigMap', source.configMapRef.name).data);
    if (source.secretRef) {
      const secret = named<Manifest & { data?: Labels; stringData?: Labels }>(manifests, 'Secret', source.secretRef.name);
      for (const [k, v] of Object.entries(secret.data ?? {})) env[k] = Buffer.from(v, 'base64').toString('utf8');
      Object.assign(env, secret.stringData);
    }
  }
  for (const variable of container.env ?? []) {
    const { resourceFieldRef, ...otherSources } = variable.valueFrom ?? {};
    assert.deepEqual(otherSources, {}, `${container.name}: ${variable.name} comes from a value or a resource field, so the checks below can read it`);
    env[variable.name] = resourceFieldRef ? resourceField(container, resourceFieldRef) : (variable.value ?? '');
  }
  return env;
}

/** The container port a probe or Service targets, by number or by name. */
function resolvePort(container: Container, port: number | string): number | undefined {
  return (container.ports ?? []).find((p) => (typeof port === 'number' ? p.containerPort === port : p.name === port))?.containerPort;
}

// ---- schemas ----

const SCHEMA_FILES: Record<string, string> = {
  'v1/ConfigMap': 'configmap-v1.json',
  'v1/Secret': 'secret-v1.json',
  'v1/Service': 'service-v1.json',
  'apps/v1/Deployment': 'deployment-apps-v1.json',
  'policy/v1/PodDisruptionBudget': 'poddisruptionbudget-policy-v1.json',
  'keda.sh/v1alpha1/ScaledObject': 'scaledobject-keda-v1alpha1.json',
};

/**
 * A CRD's schema leaves unknown fields to the API server, which drops them without a word
 * (`minReplicaCounts: 0` would apply as no minimum at all). Closing every object that lists its
 * properties makes a misspelled field an error, as the standalone-strict Kubernetes schemas do.
 */
function closeObjects(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(closeObjects);
  if (schema === null || typeof schema !== 'object') return schema;
  const copy = Object.fromEntries(Object.entries(schema).map(([k, v]) => [k, k === 'properties' ? Object.fromEntries(Object.entries(v as object).map(([p, s]) => [p, closeObjects(s)])) : closeObjects(v)]));
  if ('properties' in copy && !('additionalProperties' in copy) && !copy['x-kubernetes-preserve-unknown-fields']) copy.additionalProperties = false;
  return copy;
}

const ajv = new Ajv({ allErrors: true, strict: false });
ajv.addFormat('int32', { type: 'number', validate: (n: number) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31 });
ajv.addFormat('int64', { type: 'number', validate: (n: number) => Number.isInteger(n) });
ajv.addFormat('date-time', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/);
ajv.addFormat('byte', /^[A-Za-z0-9+/]*={0,2}$/);
const validators = new Map<string, ValidateFunction>(
  Object.entries(SCHEMA_FILES).map(([type, file]) => {
    const schema = JSON.parse(readFileSync(path.join(KUBERNETES_DIR, 'schemas', file), 'utf8')) as object;
    return [type, ajv.compile(type.startsWith('keda.sh/') ? (closeObjects(schema) as object) : schema)];
  }),
);

function schemaErrors(manifest: Manifest): string[] {
  const validate = validators.get(`${manifest.apiVersion}/${manifest.kind}`);
  if (!validate) return [`no vendored schema for ${manifest.apiVersion} ${manifest.kind}`];
  if (validate(manifest)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
}

// ---- PromQL: metric selectors and their label matchers ----

function selectors(query: string): { metric: string; matchers: { label: string; op: string; value: string }[] }[] {
  return [...query.matchAll(/\b(inferq_[a-z0-9_]+)\s*(?:\{([^}]*)\})?/g)].map(([, metric = '', body = '']) => ({
    metric,
    matchers: [...body.matchAll(/(\w+)\s*(=~|!~|!=|=)\s*"([^"]*)"/g)].map(([, label = '', op = '', value = '']) => ({ label, op, value })),
  }));
}

const apiMetrics = new Map(
  createApiMetrics({ snapshot: async () => ({ models: [] }) })
    .registry.getMetricsAsArray()
    .map((m) => [m.name, (m as unknown as { labelNames?: string[] }).labelNames ?? []] as const),
);

describe('Kubernetes manifests (deploy/kubernetes)', () => {
  test('every rendered manifest, base and scale-to-zero overlay, validates against its vendored schema', () => {
    assert.deepEqual(
      [...new Set(base.map((m) => `${m.apiVersion}/${m.kind}`))].sort(),
      Object.keys(SCHEMA_FILES).sort(),
      'the base renders each kind the schemas cover',
    );
    for (const manifest of [...base, ...scaleToZero]) {
      assert.deepEqual(schemaErrors(manifest), [], `${manifest.kind} ${manifest.metadata.name}`);
    }
  });

  test('the validation is strict: a misspelled or mistyped field fails', () => {
    const deployment = structuredClone(apiDeployment) as unknown as { spec: { template: { spec: { containers: Record<string, unknown>[] } } } };
    (deployment.spec.template.spec.containers[0] as Record<string, unknown>).imagePullPolcy = 'Always';
    assert.notDeepEqual(schemaErrors(deployment as unknown as Manifest), []);
    const pdb = structuredClone(named(base, 'PodDisruptionBudget', 'inferq-api')) as Manifest & { spec: Record<string, unknown> };
    pdb.spec.maxUnavailable = { count: 1 };
    assert.notDeepEqual(schemaErrors(pdb), []);
    const scaledObject = structuredClone(named<ScaledObject>(base, 'ScaledObject', 'inferq-worker-fraud-risk'));
    (scaledObject.spec as unknown as Record<string, unknown>).minReplicaCounts = 0;
    assert.notDeepEqual(schemaErrors(scaledObject), []);
    const noTarget = structuredClone(named<ScaledObject>(base, 'ScaledObject', 'inferq-worker-fraud-risk'));
    delete (noTarget.spec as Partial<ScaledObject['spec']>).scaleTargetRef;
    assert.notDeepEqual(schemaErrors(noTarget), []);
  });

  test('the example values of kustomization.yaml are rendered: namespace and image', () => {
    const kustomization = parse(readFileSync(path.join(BASE_DIR, 'kustomization.yaml'), 'utf8')) as { namespace: string; images: { name: string; newName: string; newTag: string }[] };
    const [image] = kustomization.images;
    assert.ok(image);
    for (const manifest of scaleToZero) assert.equal(manifest.metadata.namespace, kustomization.namespace, `${manifest.kind} ${manifest.metadata.name}`);
    const images = ofKind<Deployment>(scaleToZero, 'Deployment').flatMap((d) => d.spec.template.spec.containers.map((c) => c.image));
    assert.ok(images.length >= 2);
    for (const rendered of images) assert.equal(rendered, `${image.newName}:${image.newTag}`);
    // The overlay changes exactly one field of the base.
    const overlayObject = named<ScaledObject>(scaleToZero, 'ScaledObject', 'inferq-worker-fraud-risk');
    assert.deepEqual({ ...overlayObject, spec: { ...overlayObject.spec, minReplicaCount: 1 } }, named(base, 'ScaledObject', 'inferq-worker-fraud-risk'));
    assert.deepEqual(scaleToZero.filter((m) => m.kind !== 'ScaledObject'), base.filter((m) => m.kind !== 'ScaledObject'));
  });

  const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status === 0;
  test('kubectl kustomize renders the same objects as the test renderer', { skip: !kubectl && 'kubectl is not installed' }, () => {
    for (const dir of [BASE_DIR, SCALE_TO_ZERO_DIR]) {
      const out = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8' });
      assert.equal(out.status, 0, out.stderr);
      const key = (m: Manifest) => `${m.kind}/${m.metadata.name}`;
      const byKey = (list: Manifest[]) => Object.fromEntries(list.map((m) => [key(m), m]));
      const theirs = parseAllDocuments(out.stdout).map((d) => d.toJS() as Manifest);
      assert.deepEqual(byKey(theirs), byKey(renderKustomization(dir)), dir);
    }
  });

  test('probes reach the ports the processes listen on, on the paths they serve', () => {
    assert.ok(workerDeployments.length >= 1);
    for (const deployment of deployments) {
      for (const container of deployment.spec.template.spec.containers) {
        const where = `${deployment.metadata.name}/${container.name}`;
        const env = containerEnv(container, base);
        const listening = component(deployment) === 'api' ? Number(env.PORT) : Number(env.INFERQ_WORKER_HEALTH_PORT);
        assert.ok(listening > 0, `${where}: the port it listens on is set`);
        assert.ok(container.ports?.some((p) => p.containerPort === listening), `${where}: port ${listening} is a container port`);
        assert.equal(container.livenessProbe?.httpGet?.path, '/healthz', where);
        assert.equal(container.readinessProbe?.httpGet?.path, '/readyz', where);
        for (const probe of [container.startupProbe, container.livenessProbe, container.readinessProbe]) {
          if (!probe) continue;
          assert.ok(probe.httpGet, `${where}: HTTP probes`);
          assert.equal(resolvePort(container, probe.httpGet.port), listening, `${where}: probe on ${probe.httpGet.path} targets port ${String(probe.httpGet.port)}`);
        }
      }
    }
    // A worker opens its health port only once its models are loaded: a startup probe covers that.
    for (const worker of workerDeployments) assert.ok(worker.spec.template.spec.containers[0]?.startupProbe, worker.metadata.name);
  });

  test('the Service routes to the API pods, and to no worker, on the port the API listens on', () => {
    const service = named<Manifest & { spec: { selector: Labels; ports: { port: number; targetPort: number | string }[] } }>(base, 'Service', 'inferq-api');
    assert.ok(selects(service.spec.selector, apiDeployment.spec.template.metadata.labels));
    for (const worker of workerDeployments) assert.ok(!selects(service.spec.selector, worker.spec.template.metadata.labels), worker.metadata.name);
    const api = apiDeployment.spec.template.spec.containers[0] as Container;
    for (const port of service.spec.ports) assert.equal(resolvePort(api, port.targetPort), Number(containerEnv(api, base).PORT));
  });

  test('each Deployment selects its own pods and has a PodDisruptionBudget over exactly them', () => {
    const budgets = ofKind<Manifest & { spec: { selector: { matchLabels: Labels } } }>(base, 'PodDisruptionBudget');
    for (const deployment of deployments) {
      assert.ok(selects(deployment.spec.selector.matchLabels, deployment.spec.template.metadata.labels), deployment.metadata.name);
      const others = deployments.filter((d) => d !== deployment);
      assert.ok(others.every((d) => !selects(deployment.spec.selector.matchLabels, d.spec.template.metadata.labels)), `${deployment.metadata.name}: its selector takes no other Deployment's pods`);
      const covering = budgets.filter((b) => selects(b.spec.selector.matchLabels, deployment.spec.template.metadata.labels));
      assert.equal(covering.length, 1, `${deployment.metadata.name}: one PodDisruptionBudget`);
      assert.ok(others.every((d) => !selects((covering[0] as (typeof budgets)[number]).spec.selector.matchLabels, d.spec.template.metadata.labels)));
    }
  });

  test('termination grace outlasts the drain: terminationGracePeriodSeconds > INFERQ_SHUTDOWN_TIMEOUT_MS / 1000 + preStop sleep', () => {
    for (const deployment of deployments) {
      const grace = deployment.spec.template.spec.terminationGracePeriodSeconds;
      assert.ok(grace !== undefined, `${deployment.metadata.name}: terminationGracePeriodSeconds is set`);
      for (const container of deployment.spec.template.spec.containers) {
        assert.equal(container.lifecycle?.preStop?.exec, undefined, 'preStop sleeps without needing a shell in the image');
        const preStop = container.lifecycle?.preStop?.sleep?.seconds ?? 0;
        const drainSeconds = loadConfig({}, containerEnv(container, base)).shutdownTimeoutMs / 1000;
        assert.ok(drainSeconds > 0);
        assert.ok(grace > drainSeconds + preStop, `${deployment.metadata.name}: ${grace} s > ${drainSeconds} s + ${preStop} s`);
      }
    }
    // Behind a Service, the API keeps serving while its endpoint removal spreads.
    assert.ok((apiDeployment.spec.template.spec.containers[0]?.lifecycle?.preStop?.sleep?.seconds ?? 0) > 0);
  });

  test('the example configuration is documented and valid: README variables, values the processes accept, models that exist', async () => {
    const documented = new Set(tableRows(readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8'), '## Configuration').map(([name = '']) => name.replace(/`/g, '')));
    const configMaps = ofKind<Manifest & { data?: Labels }>(base, 'ConfigMap');
    const secrets = ofKind<Manifest & { stringData?: Labels; data?: Labels }>(base, 'Secret');
    const names = [
      ...configMaps.flatMap((c) => Object.keys(c.data ?? {})),
      ...secrets.flatMap((s) => [...Object.keys(s.stringData ?? {}), ...Object.keys(s.data ?? {})]),
      ...deployments.flatMap((d) => d.spec.template.spec.containers.flatMap((c) => (c.env ?? []).map((e) => e.name))),
    ];
    assert.ok(names.includes('INFERQ_SHUTDOWN_TIMEOUT_MS') && names.includes('REDIS_URL') && names.includes('INFERQ_WEBHOOK_SECRET'));
    for (const name of names) assert.ok(documented.has(name), `${name} is in the README's configuration table`);
    for (const key of ['REDIS_URL', 'INFERQ_API_KEYS', 'INFERQ_ADMIN_KEYS', 'INFERQ_WEBHOOK_SECRET']) {
      assert.ok(secrets.some((s) => key in (s.stringData ?? {})), `${key} is in the Secret, not the ConfigMap`);
      assert.ok(configMaps.every((c) => !(key in (c.data ?? {}))));
    }
    for (const deployment of deployments) {
      for (const container of deployment.spec.template.spec.containers) {
        const config = loadConfig({}, containerEnv(container, base));
        if (component(deployment) === 'api') {
          assert.equal(config.host, '0.0.0.0', 'the API listens beyond the pod');
          assert.ok(config.apiKeys.length > 0, 'the example API is not open');
          // The keyring refuses malformed pairs at start: the example keys must pass.
          await Keyring.load({ apiKeys: config.apiKeys, adminKeys: config.adminKeys, logger: createLogger({ level: 'silent' }) });
        } else {
          assert.equal(config.models.length, 1, `${deployment.metadata.name}: one model per worker Deployment`);
          const model = config.models[0] as string;
          assert.ok(existsSync(path.join(REPO_ROOT, 'models', model)), `${model} is in the model repository`);
          assert.equal(deployment.metadata.name, `inferq-worker-${model}`);
          assert.equal(deployment.spec.template.metadata.labels['inferq.dev/model'], model);
          // The thread policy (README, Thread policy) in a pod: every core of the CPU limit to the
          // model's sessions, set explicitly since the default (0) reads the node's cores.
          assert.ok(config.intraOpThreads > 0, 'intra-op threads set explicitly: the default reads the node, not the CPU limit');
          const limitCores = Math.ceil(cpuCores(container.resources?.limits?.cpu ?? ''));
          assert.equal(config.intraOpThreads * config.inferenceThreads, limitCores, `${deployment.metadata.name}: inference threads × intra-op threads = the CPU limit (${limitCores})`);
        }
      }
    }
  });

  test('containers run as non-root on a read-only root filesystem, without capabilities, with requests and limits', () => {
    for (const deployment of deployments) {
      const pod = deployment.spec.template.spec;
      for (const container of pod.containers) {
        const where = `${deployment.metadata.name}/${container.name}`;
        assert.ok(pod.securityContext?.runAsNonRoot === true || container.securityContext?.runAsNonRoot === true, `${where}: runAsNonRoot`);
        assert.equal(container.securityContext?.readOnlyRootFilesystem, true, where);
        assert.equal(container.securityContext?.allowPrivilegeEscalation, false, where);
        assert.deepEqual(container.securityContext?.capabilities?.drop, ['ALL'], where);
        for (const kind of ['requests', 'limits'] as const) {
          for (const resource of ['cpu', 'memory']) assert.ok(container.resources?.[kind]?.[resource], `${where}: ${kind}.${resource}`);
        }
      }
    }
  });

  test("each worker Deployment has a ScaledObject that scales it on its model's queue metrics, as the API exports them", () => {
    const scaledObjects = ofKind<ScaledObject>(base, 'ScaledObject');
    assert.deepEqual(scaledObjects.map((s) => s.spec.scaleTargetRef.name).sort(), workerDeployments.map((d) => d.metadata.name).sort());
    for (const scaledObject of scaledObjects) {
      const target = named<Deployment>(base, 'Deployment', scaledObject.spec.scaleTargetRef.name);
      assert.equal(target.spec.template.metadata.labels['app.kubernetes.io/component'], 'worker');
      const [model] = loadConfig({}, containerEnv(target.spec.template.spec.containers[0] as Container, base)).models;
      assert.ok(model);
      assert.ok((scaledObject.spec.maxReplicaCount ?? 0) >= 2);
      assert.ok(scaledObject.spec.fallback, 'a replica count to hold while Prometheus cannot be read');
      for (const trigger of scaledObject.spec.triggers) {
        const where = `${scaledObject.metadata.name} trigger ${trigger.name ?? trigger.type}`;
        assert.equal(trigger.type, 'prometheus', where);
        assert.match(trigger.metadata.serverAddress ?? '', /^https?:\/\//, where);
        assert.ok(Number(trigger.metadata.threshold) > 0, `${where}: threshold`);
        assert.ok(Number(trigger.metadata.activationThreshold) >= 0, `${where}: activationThreshold`);
        const used = selectors(trigger.metadata.query ?? '');
        assert.ok(used.length > 0, `${where}: the query reads an inferq metric`);
        // A value already per worker is a Value target (the HPA multiplies it by the ready pods);
        // a total is an AverageValue target (the HPA divides it by the replicas). Mixing them up
        // divides twice or never.
        const perWorker = used.every((u) => u.metric.endsWith('_per_worker'));
        assert.ok(perWorker || used.every((u) => !u.metric.endsWith('_per_worker')), `${where}: one kind of value`);
        assert.equal(trigger.metricType, perWorker ? 'Value' : 'AverageValue', where);
        for (const { metric, matchers } of used) {
          const labels = apiMetrics.get(metric);
          assert.ok(labels, `${where}: ${metric} is a metric the API exports`);
          for (const { label } of matchers) assert.ok(labels.includes(label), `${where}: ${metric} has a ${label} label`);
          assert.deepEqual(matchers.filter((m) => m.label === 'model'), [{ label: 'model', op: '=', value: model }], `${where}: reads ${model}'s series`);
        }
      }
      // The backlog per worker, the signal the API computes for autoscalers, drives one trigger.
      assert.ok(scaledObject.spec.triggers.some((t) => selectors(t.metadata.query ?? '').some((s) => s.metric === 'inferq_queue_backlog_per_worker')));
    }
  });

  test('scale to zero: the overlay lets the workers reach 0 and every trigger can wake them; the base keeps one', () => {
    for (const scaledObject of ofKind<ScaledObject>(base, 'ScaledObject')) assert.ok((scaledObject.spec.minReplicaCount ?? 0) >= 1, scaledObject.metadata.name);
    const scaled = ofKind<ScaledObject>(scaleToZero, 'ScaledObject');
    assert.ok(scaled.length >= 1);
    for (const scaledObject of scaled) {
      assert.equal(scaledObject.spec.minReplicaCount, 0);
      assert.ok((scaledObject.spec.cooldownPeriod ?? 0) > 0);
      for (const trigger of scaledObject.spec.triggers) assert.equal(trigger.metadata.activationThreshold, '0', `${trigger.name}: any job wakes the model`);
    }
  });
});

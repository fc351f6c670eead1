import { Hono } from 'hono';
import type { ModelEntry } from '@inferq/inference/model-repository';
import { defaultVersion } from '@inferq/inference/model-repository';
import type { AppEnv } from '../app-env.ts';
import type { RoutingService } from '../routing/routing-service.ts';
import type { ModelCatalog } from '../services/model-catalog.ts';
import type { PredictionService } from '../services/prediction-service.ts';

type Reports = Awaited<ReturnType<ModelCatalog['workerReports']>>;

function describe(model: ModelEntry, reports: Reports) {
  return {
    name: model.name,
    default_version: defaultVersion(model)?.version ?? null,
    versions: model.versions.map((v) => {
      const workers = reports.get(`${model.name}/${v.version}`) ?? [];
      const ready = workers.filter((w) => w.state === 'ready');
      const m = v.manifest;
      return {
        version: v.version,
        // available: the artifact passed its checks; loaded: at least one live worker serves it.
        state: v.state !== 'available' ? v.state : ready.length > 0 ? 'loaded' : 'available',
        ...(v.reason ? { reason: v.reason } : {}),
        description: m?.description ?? null,
        task: m?.task ?? null,
        inputs: m?.inputs ?? [],
        outputs: m?.outputs ?? [],
        features: m?.features?.names ?? null,
        feature_ranges: m?.features ? m.features.ranges : null,
        labels: m?.labels ?? null,
        batching: m ? { max_batch_size: m.max_batch_size, max_wait_ms: m.max_wait_ms } : null,
        sha256: m?.sha256 ?? null,
        workers: {
          ready: ready.length,
          loading: workers.filter((w) => w.state === 'loading').length,
          failed: workers.filter((w) => w.state === 'failed').map((w) => ({ worker_id: w.worker_id, reason: w.reason ?? null })),
          execution_providers: [...new Set(ready.map((w) => w.provider).filter(Boolean))],
        },
      };
    }),
  };
}

/** The policy in force, from this process's cache. */
function policySummary(routing: RoutingService, name: string) {
  const { policy, revision, source } = routing.policy(name);
  return { revision, source, weights: policy.weights, shadow: policy.shadow ?? null, fallback: policy.fallback ?? null };
}

export function modelsRoutes({ catalog, routing, predictions }: { catalog: ModelCatalog; routing: RoutingService; predictions: PredictionService }) {
  return new Hono<AppEnv>()
    .get('/', async (c) => {
      const reports = await catalog.workerReports();
      return c.json({ models: catalog.names().map((n) => ({ ...describe(catalog.get(n), reports), routing: policySummary(routing, n) })) });
    })
    .get('/:name', async (c) => {
      const model = catalog.get(c.req.param('name'));
      // The full routing status: per-version health, shadow comparisons, rollbacks and other events.
      // Per version, labelled quality and feature drift from the prediction log.
      const [reports, status, monitoring] = await Promise.all([catalog.workerReports(), routing.status(model.name), predictions.monitoring(model.name)]);
      const described = describe(model, reports);
      const versions = described.versions.map((v) => ({ ...v, quality: monitoring.get(v.version)?.quality ?? null, drift: monitoring.get(v.version)?.drift ?? null }));
      return c.json({ ...described, versions, routing: status });
    });
}

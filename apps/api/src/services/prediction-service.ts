import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { InferqError, type ErrorBody } from '@inferq/core/errors';
import { parseJobId } from '@inferq/core/job-id';
import type { ModelVersionEntry } from '@inferq/inference/model-repository';
import { featureDrift, type FeatureDrift } from '@inferq/jobs/feature-drift';
import { isClassifier, outcomeOf, positiveLabel, summarizeQuality, type VersionQuality } from '@inferq/jobs/prediction-quality';
import type { PredictionPage, PredictionQuery, PredictionStore } from '@inferq/jobs/prediction-store';
import type { MonitoringSnapshot } from '@inferq/metrics/metrics';
import type { ModelCatalog } from './model-catalog.ts';

/** One row of POST /v1/labels: which prediction, and its true label. */
export type LabelRow =
  | { job_id: string; label: unknown }
  | { model: string; batch_id: string; row: number; label: unknown }
  | { model: string; routing_key: string; at: string | number; label: unknown };

export type LabelResult = { status: 'stored' | 'unchanged'; prediction_id: string; model: string; version: string | null } | { error: ErrorBody };

/** A version's quality over its labelled window, and each feature's drift from its reference. */
export interface VersionMonitoring {
  quality: VersionQuality | null;
  drift: { reference: 'first_predictions' | 'reference.json'; reference_size: number; window_size: number; threshold: number; features: Record<string, FeatureDrift> } | null;
}

export interface PredictionServiceOptions {
  store: PredictionStore;
  catalog: ModelCatalog;
  driftPsiThreshold: number;
}

const notFound = (details: Record<string, unknown>) => new InferqError('PREDICTION_NOT_FOUND', undefined, { details });

/**
 * The prediction log's API side: tenant-scoped export, labels (checked against the model's
 * labels, then stored once), and each version's quality and drift.
 */
export class PredictionService {
  private readonly references = new Map<string, Promise<number[][] | undefined>>();

  constructor(private readonly options: PredictionServiceOptions) {}

  /** `tenant` undefined: every tenant's predictions (the admin scope). */
  async page(query: PredictionQuery): Promise<PredictionPage> {
    this.options.catalog.get(query.model);
    return this.options.store.page(query);
  }

  /** Labels rows one by one (a bad row fails alone, with its code); `tenant` undefined: any tenant's predictions. */
  async label(rows: readonly LabelRow[], tenant: string | undefined): Promise<LabelResult[]> {
    const results: LabelResult[] = new Array(rows.length);
    // Rows are independent: a window of them in flight shares round trips (auto-pipelining).
    const window = 64;
    for (let from = 0; from < rows.length; from += window) {
      await Promise.all(
        rows.slice(from, from + window).map(async (row, k) => {
          try {
            results[from + k] = await this.labelOne(row, tenant);
          } catch (error) {
            if (!(error instanceof InferqError)) throw error;
            results[from + k] = { error: error.toBody() };
          }
        }),
      );
    }
    return results;
  }

  private async labelOne(row: LabelRow, tenant: string | undefined): Promise<LabelResult> {
    const { store, catalog } = this.options;
    let target: Parameters<PredictionStore['label']>[0];
    if ('job_id' in row) {
      const parsed = parseJobId(row.job_id);
      if (!parsed || !catalog.names().includes(parsed.model)) throw notFound({ job_id: row.job_id });
      target = { model: parsed.model, id: row.job_id };
    } else if ('batch_id' in row) {
      catalog.get(row.model);
      target = { model: row.model, id: `${row.batch_id}:${row.row}` };
    } else {
      catalog.get(row.model);
      const at = typeof row.at === 'number' ? row.at : Date.parse(row.at);
      target = { model: row.model, routingKey: row.routing_key, at };
    }
    const versions = catalog.get(target.model).versions;
    const manifestOf = (version: string) => versions.find((v) => v.version === version)?.manifest;
    const outcome = await store.label(target, row.label, tenant, (record, loggedAt) => {
      const manifest = manifestOf(record.version);
      if (!manifest || !isClassifier(manifest) || record.status !== 'succeeded') return undefined;
      return typeof row.label === 'string' ? outcomeOf(manifest, record.prediction, row.label, loggedAt) : undefined;
    }, (record) => {
      // A classifier's label must be one of its classes: checked before anything is stored.
      const manifest = manifestOf(record.version);
      if (manifest?.labels && isClassifier(manifest) && (typeof row.label !== 'string' || !manifest.labels.includes(row.label))) {
        throw new InferqError('LABEL_INVALID', `the label must be one of ${manifest.labels.join(', ')}`, { details: { labels: manifest.labels } });
      }
    });
    const where = 'id' in target ? { prediction_id: target.id } : { routing_key: target.routingKey, at: new Date(target.at).toISOString() };
    if (outcome.status === 'missing') throw notFound(where);
    if (outcome.status === 'conflict') {
      throw new InferqError('LABEL_CONFLICT', `prediction ${outcome.id} already has the label ${JSON.stringify(outcome.existing)}`, { details: { prediction_id: outcome.id, label: outcome.existing, labeled_at: outcome.labeledAt } });
    }
    return { status: outcome.status, prediction_id: outcome.id, model: outcome.model, version: outcome.record?.version ?? null };
  }

  /** Every model's versions' quality figures and drift, for /metrics. */
  async snapshot(): Promise<MonitoringSnapshot> {
    const versions: MonitoringSnapshot['versions'] = [];
    for (const model of this.options.catalog.names()) {
      for (const [version, m] of await this.monitoring(model)) {
        const q = m.quality;
        versions.push({
          model,
          version,
          quality: q ? { labelled: q.labelled, accuracy: q.accuracy, precision: q.precision, recall: q.recall, log_loss: q.log_loss } : null,
          drift: m.drift ? Object.fromEntries(Object.entries(m.drift.features).map(([name, d]) => [name, d.psi])) : null,
        });
      }
    }
    return { versions };
  }

  /** Each version's labelled quality over its predictions logged since `since` (the label guardrail). */
  async labelledQuality(model: string, versions: string[], since: number): Promise<Map<string, VersionQuality>> {
    const entry = this.options.catalog.get(model);
    const result = new Map<string, VersionQuality>();
    for (const version of versions) {
      const manifest = entry.versions.find((v) => v.version === version)?.manifest;
      if (!manifest || !isClassifier(manifest)) continue;
      const outcomes = (await this.options.store.outcomes(model, version)).filter((o) => o.at >= since);
      result.set(version, summarizeQuality(outcomes, positiveLabel(manifest)));
    }
    return result;
  }

  /** Quality (classifiers) and drift (tabular models) of each available version. */
  async monitoring(model: string): Promise<Map<string, VersionMonitoring>> {
    const entry = this.options.catalog.get(model);
    const result = new Map<string, VersionMonitoring>();
    await Promise.all(
      entry.versions
        .filter((v) => v.state === 'available' && v.manifest)
        .map(async (v) => {
          result.set(v.version, await this.versionMonitoring(v));
        }),
    );
    return result;
  }

  private async versionMonitoring(v: ModelVersionEntry): Promise<VersionMonitoring> {
    const { store, driftPsiThreshold } = this.options;
    const manifest = v.manifest as NonNullable<ModelVersionEntry['manifest']>;
    const quality = isClassifier(manifest) ? summarizeQuality(await store.outcomes(v.name, v.version), positiveLabel(manifest)) : null;
    const names = manifest.features?.names;
    if (!names) return { quality, drift: null };
    const [samples, file] = await Promise.all([store.driftSamples(v.name, v.version), this.referenceFile(v, names)]);
    const reference = file ?? samples.reference;
    return {
      quality,
      drift: {
        reference: file ? 'reference.json' : 'first_predictions',
        reference_size: reference.length,
        window_size: samples.recent.length,
        threshold: driftPsiThreshold,
        features: featureDrift(names, reference, samples.recent, driftPsiThreshold),
      },
    };
  }

  /**
   * `reference.json` in the version's directory, `{"features": {"<name>": [values...]}}` (every
   * feature, equal lengths), read once; undefined when there is none.
   */
  private referenceFile(v: ModelVersionEntry, names: readonly string[]): Promise<number[][] | undefined> {
    let loaded = this.references.get(v.dir);
    if (!loaded) {
      loaded = readFile(path.join(v.dir, 'reference.json'), 'utf8').then(
        (text) => {
          const columns = (JSON.parse(text) as { features?: Record<string, number[]> }).features ?? {};
          const length = Math.min(...names.map((n) => columns[n]?.length ?? 0));
          return Array.from({ length }, (_, r) => names.map((n) => columns[n]?.[r] as number));
        },
        () => undefined,
      );
      this.references.set(v.dir, loaded);
    }
    return loaded;
  }
}

import type { Keyspace } from '@inferq/core/keyspace';
import type { Redis } from '@inferq/core/redis-connection';
import { WORKER_REPORT_TTL_MS, type VersionReport, type WorkerReport } from '@inferq/core/worker-report';
import { InferqError } from '@inferq/core/errors';
import type { Logger } from '@inferq/core/logger';
import { compareVersions, defaultVersion, loadModelRepository, type ModelEntry, type ModelVersionEntry } from '@inferq/inference/model-repository';

/**
 * The models the API validates requests against: the model repository read (and checksummed)
 * at start-up, plus what live workers report about each version, read from Redis on demand.
 */
export class ModelCatalog {
  constructor(
    private readonly models: Map<string, ModelEntry>,
    private readonly redis: Redis,
    private readonly keys: Keyspace,
    /** Where to rescan when a worker hot-loads a version; absent: never rescanned. */
    private readonly modelDir?: string,
  ) {}

  /** True when jobs may be routed to this version: it exists and passed its checks. */
  isAvailable(name: string, version: string): boolean {
    return this.models.get(name)?.versions.some((v) => v.version === version && v.state === 'available') === true;
  }

  /**
   * Re-reads one model's directory (sha256 checked) and learns versions it did not know, or
   * that were refused and now pass; `failed` names a version a worker failed to load, learnt as refused. A version already available is never replaced: a live
   * model is never overwritten. Returns the versions learnt.
   */
  async rescan(name: string, logger?: Logger, failed?: string): Promise<string[]> {
    const model = this.models.get(name);
    if (!model || !this.modelDir) return [];
    const scanned = (await loadModelRepository(this.modelDir, { only: [name] })).get(name);
    const learnt: string[] = [];
    for (const entry of scanned?.versions ?? []) {
      // Passed its checks but a worker could not load it: known, shown, never routed to (until a worker has it ready).
      if (entry.version === failed && entry.state === 'available') Object.assign(entry, { state: 'refused', reason: 'a worker could not load it (see workers.failed)' });
      const index = model.versions.findIndex((v) => v.version === entry.version);
      const known = index >= 0 ? model.versions[index] : undefined;
      if (known?.state === 'available' || known?.state === 'unloaded') continue;
      if (known && known.state === entry.state && known.reason === entry.reason) continue;
      if (index >= 0) model.versions[index] = entry;
      else model.versions.push(entry);
      learnt.push(entry.version);
      logger?.[entry.state === 'available' ? 'info' : 'error']({ model: name, version: entry.version, state: entry.state, reason: entry.reason }, 'model version learnt');
    }
    model.versions.sort((a, b) => compareVersions(a.version, b.version));
    return learnt;
  }

  /** Takes a version out of service in this process: no routing, no pinned jobs, never rescanned back. */
  markUnloaded(name: string, version: string): void {
    const entry = this.models.get(name)?.versions.find((v) => v.version === version);
    if (!entry) return;
    entry.state = 'unloaded';
    entry.reason = 'unloaded by an operator';
  }

  /** Marks every version recorded as unloaded in Redis (at start: another process may have unloaded it). */
  async loadUnloaded(): Promise<void> {
    for (const name of this.names()) {
      for (const version of await this.redis.smembers(this.keys.unloading(name))) this.markUnloaded(name, version);
    }
  }

  /** Versions at least one live worker reports ready. */
  async readyVersions(name: string): Promise<Set<string>> {
    const ready = new Set<string>();
    for (const [key, reports] of await this.workerReports()) {
      const [model, version] = key.split('/');
      if (model === name && version && reports.some((r) => r.state === 'ready')) ready.add(version);
    }
    return ready;
  }

  names(): string[] {
    return [...this.models.keys()];
  }

  get(name: string): ModelEntry {
    const model = this.models.get(name);
    if (!model) throw new InferqError('MODEL_NOT_FOUND', `no model named ${name}`, { details: { model: name, models: this.names() } });
    return model;
  }

  /** The version a job runs on: the one it names, else the newest available one. */
  resolveVersion(name: string, version?: string): ModelVersionEntry {
    const model = this.get(name);
    const entry = version === undefined ? defaultVersion(model) : model.versions.find((v) => v.version === version);
    if (!entry) {
      if (version !== undefined) {
        throw new InferqError('MODEL_VERSION_NOT_FOUND', `model ${name} has no version ${version}`, {
          details: { model: name, version, versions: model.versions.map((v) => v.version) },
        });
      }
      throw new InferqError('MODEL_VERSION_UNAVAILABLE', `model ${name} has no version that loaded`, { details: { model: name } });
    }
    if (entry.state !== 'available') {
      throw new InferqError('MODEL_VERSION_UNAVAILABLE', `version ${entry.version} of ${name} is ${entry.state}: ${entry.reason}`, {
        details: { model: name, version: entry.version, reason: entry.reason },
      });
    }
    return entry;
  }

  /** Live workers' reports, keyed by `model/version`. */
  async workerReports(): Promise<Map<string, (VersionReport & { worker_id: string })[]>> {
    const ids = await this.redis.zrangebyscore(this.keys.workers(), Date.now() - WORKER_REPORT_TTL_MS, '+inf');
    const byVersion = new Map<string, (VersionReport & { worker_id: string })[]>();
    if (ids.length === 0) return byVersion;
    const raw = await this.redis.mget(ids.map((id) => this.keys.workerReport(id)));
    for (const text of raw) {
      if (!text) continue;
      const report = JSON.parse(text) as WorkerReport;
      for (const v of report.versions) {
        const key = `${v.model}/${v.version}`;
        const list = byVersion.get(key) ?? [];
        list.push({ ...v, worker_id: report.worker_id });
        byVersion.set(key, list);
      }
    }
    return byVersion;
  }
}

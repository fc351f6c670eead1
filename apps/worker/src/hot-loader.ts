import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Keyspace } from '@inferq/core/keyspace';
import type { Logger } from '@inferq/core/logger';
import type { Redis } from '@inferq/core/redis-connection';
import { checkVersion, listVersions, type ModelVersionEntry } from '@inferq/inference/model-repository';

export interface HotLoaderOptions {
  modelDir: string;
  /** The models this worker serves. */
  models: string[];
  /** Rescan period; 0: only when asked (POST /v1/models/rescan publishes on modelsRescanChannel). */
  intervalMs: number;
  /** A connection for SUBSCRIBE only. */
  subscriber: Redis;
  keys: Keyspace;
  logger: Logger;
  /** Versions this worker has loaded or is loading: never looked at again. */
  loaded: (model: string) => ReadonlySet<string>;
  /** Loads and warms a checked version; true when it is ready for traffic. */
  load: (entry: ModelVersionEntry) => Promise<boolean>;
  /** Reports a version refused by its checks (manifest, artifact, sha256). */
  refuse: (entry: ModelVersionEntry) => Promise<void>;
}

/** Files whose change makes a refused version worth checking again (a copy that was still being written). */
async function signature(dir: string): Promise<string> {
  const parts = await Promise.all(
    ['model.json', 'model.onnx', '.'].map(async (f) => {
      const s = await stat(path.join(dir, f)).catch(() => undefined);
      return s ? `${s.mtimeMs}:${s.size}` : '-';
    }),
  );
  return parts.join('|');
}

/**
 * Hot load: finds version directories that appeared since start-up (periodically, and at once
 * when an operator asks), checks each (manifest, artifact, sha256), loads and warms it, and only
 * then does the version report ready and become routable. A version that fails is reported and
 * never takes traffic; it is checked again only if its files change. Old versions keep serving
 * throughout: nothing already loaded is touched.
 */
export class HotLoader {
  private readonly refused = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  private scanning: Promise<void> | undefined;
  private again = false;

  constructor(private readonly options: HotLoaderOptions) {}

  async start(): Promise<void> {
    // An operator's request, or another worker having loaded a version: either way, look now.
    const channels = [this.options.keys.modelsRescanChannel(), this.options.keys.modelsChangedChannel()];
    this.options.subscriber.on('message', (from: string) => {
      if (channels.includes(from)) void this.scan();
    });
    await this.options.subscriber.subscribe(...channels);
    if (this.options.intervalMs > 0) {
      this.timer = setInterval(() => void this.scan(), this.options.intervalMs);
      this.timer.unref();
    }
  }

  /** Remembers a version refused at start-up, so it is not re-checked until its files change. */
  async noteRefused(entry: ModelVersionEntry): Promise<void> {
    this.refused.set(`${entry.name}/${entry.version}`, await signature(entry.dir));
  }

  /** One rescan at a time; a request during a scan runs one more afterwards. */
  scan(): Promise<void> {
    if (this.scanning) {
      this.again = true;
      return this.scanning;
    }
    this.scanning = this.scanAll().finally(() => {
      this.scanning = undefined;
      if (this.again) {
        this.again = false;
        void this.scan();
      }
    });
    return this.scanning;
  }

  private async scanAll(): Promise<void> {
    for (const model of this.options.models) {
      try {
        await this.scanModel(model);
      } catch (error) {
        this.options.logger.warn({ model, err: (error as Error).message }, 'model rescan failed');
      }
    }
  }

  private async scanModel(model: string): Promise<void> {
    const loaded = this.options.loaded(model);
    for (const version of await listVersions(this.options.modelDir, model)) {
      if (loaded.has(version)) continue;
      const key = `${model}/${version}`;
      const dir = path.join(this.options.modelDir, model, version);
      const sig = await signature(dir);
      if (this.refused.get(key) === sig) continue;
      const entry = await checkVersion(model, version, dir);
      if (entry.state !== 'available') {
        this.refused.set(key, sig);
        this.options.logger.error({ model, version, reason: entry.reason }, 'new model version refused; the other versions keep serving');
        await this.options.refuse(entry);
        continue;
      }
      this.refused.delete(key);
      this.options.logger.info({ model, version }, 'new model version found: loading it');
      if (!(await this.options.load(entry))) this.refused.set(key, sig);
    }
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
  }
}

import type { Logger } from '@inferq/core/logger';
import { DynamicBatcher } from '@inferq/inference/dynamic-batcher';
import { ImagePreprocessPool } from '@inferq/inference/image-preprocess-pool';
import { InferencePool } from '@inferq/inference/inference-pool';
import type { ModelManifest } from '@inferq/inference/manifest';
import type { ModelVersionEntry } from '@inferq/inference/model-repository';
import { ResultBuilder } from '@inferq/inference/postprocess';
import type { ThreadPolicy } from '@inferq/inference/thread-policy';
import { allocate, ortTypeOf, type RawTensor } from '@inferq/inference/tensor-codec';

export interface VersionRunnerOptions {
  threads: number;
  policy: ThreadPolicy;
  /** Image threads (decode, resize, normalise) of an image model's version. */
  imageThreads: number;
  executionProviders: string[];
  logger: Logger;
  /** Told of every successful `session.run` (rows, milliseconds), for metrics. */
  onRun?: (rows: number, inferenceMs: number) => void;
}

/** One row of zeros per input: enough to make onnxruntime allocate and JIT its kernels. */
function warmupFeeds(manifest: ModelManifest): Record<string, RawTensor> {
  const feeds: Record<string, RawTensor> = {};
  for (const spec of manifest.inputs) {
    // Dynamic dimensions get 1, except an image's height and width, which get the smallest size
    // the network takes (a detection network downsamples a page by 32).
    const dims = spec.shape.map((d, axis) => (d !== -1 ? d : axis >= 2 && manifest.preprocess ? 32 : 1));
    const type = ortTypeOf(spec.datatype);
    feeds[spec.name] = { type, dims, data: allocate(type, dims.reduce((a, b) => a * b, 1)) };
  }
  return feeds;
}

/** A loaded model version: its inference threads (warmed up) and the batcher in front of them. */
export class VersionRunner {
  private constructor(
    readonly entry: ModelVersionEntry,
    readonly manifest: ModelManifest,
    readonly pool: InferencePool,
    readonly batcher: DynamicBatcher,
    readonly results: ResultBuilder,
    /** Set for image models: where their inputs are prepared, off the event loop. */
    readonly images: ImagePreprocessPool | undefined,
  ) {}

  static async load(entry: ModelVersionEntry, options: VersionRunnerOptions): Promise<VersionRunner> {
    const { manifest, artifactPath } = entry;
    if (entry.state !== 'available' || !manifest || !artifactPath) throw new Error(entry.reason ?? 'version is not available');
    const results = await ResultBuilder.load(manifest, entry.dir);
    const warned = new Set<string>();
    let batcher: DynamicBatcher | undefined;
    const pool = await InferencePool.start({
      modelPath: artifactPath,
      threads: options.threads,
      policy: options.policy,
      executionProviders: options.executionProviders,
      warmupFeeds: warmupFeeds(manifest),
      onIdle: () => batcher?.pump(),
      onWarning: (message) => {
        if (warned.has(message)) return;
        warned.add(message);
        options.logger.warn({ model: entry.name, version: entry.version }, message);
      },
    });
    batcher = new DynamicBatcher(pool, {
      maxBatchSize: manifest.max_batch_size,
      maxWaitMs: manifest.max_wait_ms,
      padValue: manifest.preprocess?.pad_value ?? 0,
      ...(options.onRun ? { onRun: options.onRun } : {}),
    });
    const images = manifest.preprocess ? new ImagePreprocessPool(options.imageThreads) : undefined;
    return new VersionRunner(entry, manifest, pool, batcher, results, images);
  }

  async close(): Promise<void> {
    await Promise.all([this.pool.close(), this.images?.close()]);
  }
}

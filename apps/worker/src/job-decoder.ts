import { InferqError } from '@inferq/core/errors';
import type { QueuedTensor } from '@inferq/core/tensor';
import { preprocessImage, widthBucket, type ImageLimits } from '@inferq/inference/image-preprocess';
import { preprocessPage } from '@inferq/inference/page-preprocess';
import { unpackQueuedInputs } from '@inferq/inference/input-validation';
import type { ItemNotes } from '@inferq/inference/postprocess';
import type { BatchPart } from '@inferq/inference/tensor-codec';
import type { VersionRunner } from './version-runner.ts';

export interface DecodedJob {
  feeds: Record<string, BatchPart>;
  rows: number;
  /** Jobs share a batch only with jobs of the same key. */
  batchKey: string;
  notes?: ItemNotes;
}

export interface DecodeLimits {
  maxRowsPerJob: number;
  imageLimits: ImageLimits;
}

/**
 * Re-checks a job's input against the version that will run it (a producer other than our API
 * may have written it) and builds fresh feeds: feeds are handed to the inference thread, so a
 * job re-run on a fallback version is decoded again.
 */
export async function decodeJob(data: { inputs: QueuedTensor[]; image?: string }, runner: VersionRunner, limits: DecodeLimits): Promise<DecodedJob> {
  const preprocess = runner.manifest.preprocess;
  if (data.image !== undefined) {
    if (!preprocess) throw new InferqError('IMAGE_NOT_SUPPORTED');
    if (preprocess.kind === 'page') {
      const page = runner.images ? await runner.images.preprocess(data.image, preprocess, limits.imageLimits) : await preprocessPage(Buffer.from(data.image, 'base64'), preprocess, limits.imageLimits);
      // Pages batch only with pages of the same tensor size.
      return { feeds: { [preprocess.input]: page.tensor }, rows: 1, batchKey: `p${page.tensor.dims[2]}x${page.tensor.dims[3]}`, notes: page.notes };
    }
    // On the version's image threads: the event loop only hands over the queued base64 string.
    const image = runner.images ? await runner.images.preprocess(data.image, preprocess, limits.imageLimits) : await preprocessImage(Buffer.from(data.image, 'base64'), preprocess, limits.imageLimits);
    const width = image.tensor.dims[3] as number;
    return {
      feeds: { [preprocess.input]: image.tensor },
      rows: 1,
      batchKey: preprocess.width === 'dynamic' ? `w${widthBucket(width)}` : '',
      notes: image.notes,
    };
  }
  return unpackQueuedInputs(runner.manifest, data.inputs, limits.maxRowsPerJob);
}

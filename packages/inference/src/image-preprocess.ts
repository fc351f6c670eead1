import type { Metadata, Sharp, SharpOptions } from 'sharp';
import { InferqError } from '@inferq/core/errors';
import type { ImagePreprocess } from './manifest.ts';
import type { RawTensor } from './tensor-codec.ts';

type SharpFactory = (input: Uint8Array, options?: SharpOptions) => Sharp;
let sharpLoading: Promise<SharpFactory> | undefined;

/**
 * sharp (libvips) loads on the first image, not at start: an API that never sees an image keeps
 * its start-up time and memory (about 12 MiB) without it.
 */
function loadSharp(): Promise<SharpFactory> {
  sharpLoading ??= import('sharp').then((module) => module.default as SharpFactory);
  return sharpLoading;
}

export const ACCEPTED_IMAGE_FORMATS = ['png', 'jpeg', 'webp'] as const;

export interface ImageLimits {
  /** Largest width × height accepted, checked from the header before decoding. */
  maxPixels: number;
  /** Widest tensor a dynamic-width model gets; wider lines are cut and say so. */
  maxWidth: number;
}

export interface ImageInfo {
  format: string;
  width: number;
  height: number;
}

/**
 * Reads only the image header: the format and dimensions, so that bytes which are not an image,
 * and decompression bombs, are refused before anything is decoded.
 */
export async function probeImage(bytes: Uint8Array, limits: Pick<ImageLimits, 'maxPixels'>): Promise<ImageInfo> {
  if (bytes.length === 0) throw new InferqError('IMAGE_INVALID', 'the image is empty');
  let meta: Metadata;
  try {
    // Header only: sharp's own pixel limit is lifted here so the size check below can say 413.
    const sharp = await loadSharp();
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (error) {
    throw new InferqError('IMAGE_INVALID', `the bytes are not a readable image: ${(error as Error).message}`);
  }
  const { format, width, height } = meta;
  if (!format || !(ACCEPTED_IMAGE_FORMATS as readonly string[]).includes(format) || !width || !height) {
    throw new InferqError('IMAGE_INVALID', `image format ${format ?? 'unknown'} is not one of ${ACCEPTED_IMAGE_FORMATS.join(', ')}`, { details: { format } });
  }
  if (width * height > limits.maxPixels) {
    throw new InferqError('IMAGE_TOO_LARGE', `the image is ${width}×${height} pixels; at most ${limits.maxPixels} are allowed (INFERQ_MAX_IMAGE_PIXELS)`, {
      details: { width, height, max_pixels: limits.maxPixels },
    });
  }
  return { format, width, height };
}

export interface PreprocessedImage {
  tensor: RawTensor;
  /** Facts the result reports: the width used, and whether the line was cut at maxWidth. */
  notes: { truncated?: true; original_width?: number };
}

/**
 * Decodes an image into the model's input tensor, as the manifest's `preprocess` says
 * (see manifest.ts). Decoding and resizing run in libvips' threads; the normalisation loop runs
 * on the calling thread, which in a worker is an image thread (image-preprocess-pool.ts).
 */
export async function preprocessImage(bytes: Uint8Array, spec: ImagePreprocess, limits: ImageLimits): Promise<PreprocessedImage> {
  const info = await probeImage(bytes, limits);
  const height = spec.height;
  const naturalWidth = Math.max(1, Math.round((height * info.width) / info.height));
  let resizedWidth: number;
  let canvasWidth: number;
  const notes: PreprocessedImage['notes'] = {};
  if (spec.width === 'dynamic') {
    resizedWidth = naturalWidth;
    canvasWidth = Math.min(naturalWidth, limits.maxWidth);
    if (naturalWidth > limits.maxWidth) {
      notes.truncated = true;
      notes.original_width = naturalWidth;
    }
  } else {
    resizedWidth = Math.min(naturalWidth, spec.width);
    canvasWidth = spec.width;
  }
  let pixels: Buffer;
  try {
    const sharp = await loadSharp();
    let pipeline = sharp(bytes, { limitInputPixels: limits.maxPixels })
      .rotate() // honour EXIF orientation, as a viewer would
      .removeAlpha()
      .toColourspace('srgb')
      .resize(resizedWidth, height, { fit: 'fill', kernel: 'linear' });
    // An extract after resize cuts the resized image, in the same pass (no re-encoded intermediate).
    if (resizedWidth > canvasWidth) pipeline = pipeline.extract({ left: 0, top: 0, width: canvasWidth, height });
    pixels = await pipeline.raw().toBuffer();
  } catch (error) {
    throw new InferqError('IMAGE_INVALID', `the image could not be decoded: ${(error as Error).message}`);
  }
  const width = Math.min(resizedWidth, canvasWidth);
  const data = normalisedChw(pixels, width, height, canvasWidth, spec);
  return { tensor: { type: 'float32', dims: [1, 3, height, canvasWidth], data }, notes };
}

/** What normalisation needs from a manifest's `preprocess`, whichever its kind. */
export interface Normalisation {
  channel_order: 'rgb' | 'bgr';
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
  pad_value: number;
}

/**
 * Interleaved 8-bit pixels (`width` × `height`, 1 to 4 channels) → 3 planes of `canvasWidth` ×
 * `height` floats in `channel_order`, each `(x / 255 - mean) / std`; columns past `width` hold
 * `pad_value`.
 */
export function normalisedChw(pixels: Uint8Array, width: number, height: number, canvasWidth: number, spec: Normalisation): Float32Array {
  const channels = pixels.length / (width * height);
  const plane = height * canvasWidth;
  const data = new Float32Array(3 * plane).fill(spec.pad_value);
  const order = spec.channel_order === 'bgr' ? [2, 1, 0] : [0, 1, 2];
  const scale = order.map((source) => 1 / (255 * (spec.std[source] as number)));
  const shift = order.map((source) => (spec.mean[source] as number) / (spec.std[source] as number));
  for (let c = 0; c < 3; c++) {
    const source = Math.min(order[c] as number, channels - 1);
    const k = scale[c] as number;
    const b = shift[c] as number;
    for (let y = 0; y < height; y++) {
      const rowIn = y * width * channels;
      const rowOut = c * plane + y * canvasWidth;
      for (let x = 0; x < width; x++) data[rowOut + x] = (pixels[rowIn + x * channels + source] as number) * k - b;
    }
  }
  return data;
}

/**
 * Width buckets grow by 25 %: images in one bucket differ in width by at most that much, so a
 * batch padded to its widest image is at most a fifth padding, however mixed the traffic.
 */
export function widthBucket(width: number): number {
  return Math.max(0, Math.ceil(Math.log(width / 32) / Math.log(1.25)));
}

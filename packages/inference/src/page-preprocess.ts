import sharp from 'sharp';
import { InferqError } from '@inferq/core/errors';
import { normalisedChw, probeImage, type ImageLimits } from './image-preprocess.ts';
import type { PagePreprocess } from './manifest.ts';
import type { RawTensor } from './tensor-codec.ts';

export interface PreprocessedPage {
  tensor: RawTensor;
  /** The page's own size (after EXIF orientation): detection maps its boxes back onto it. */
  notes: { width: number; height: number };
}

/**
 * The tensor size for a page of `width` × `height`: shrunk (never enlarged) so the longer side is
 * at most `maxSide`, then each side rounded to the nearest multiple of `multipleOf` (at least one
 * multiple), as PaddleOCR's detection resize does. The aspect ratio changes by at most half a
 * multiple per side; boxes are mapped back per axis.
 */
export function pageTensorSize(width: number, height: number, maxSide: number, multipleOf: number): { width: number; height: number } {
  const ratio = Math.max(width, height) > maxSide ? maxSide / Math.max(width, height) : 1;
  const round = (side: number) => Math.max(multipleOf, Math.round((side * ratio) / multipleOf) * multipleOf);
  return { width: round(width), height: round(height) };
}

/**
 * Decodes a page for text detection, as the manifest's `page` preprocess says (see manifest.ts).
 * Decoding and resizing run in libvips' own threads, off the event loop.
 */
export async function preprocessPage(bytes: Uint8Array, spec: PagePreprocess, limits: Pick<ImageLimits, 'maxPixels'>): Promise<PreprocessedPage> {
  await probeImage(bytes, limits);
  let pixels: Buffer;
  let page: { width: number; height: number };
  let size: { width: number; height: number };
  try {
    // Oriented first (EXIF), so the boxes are in the page as a viewer shows it.
    const oriented = await sharp(bytes, { limitInputPixels: limits.maxPixels }).rotate().removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
    page = { width: oriented.info.width, height: oriented.info.height };
    size = pageTensorSize(page.width, page.height, spec.max_side, spec.multiple_of);
    pixels = await sharp(oriented.data, { raw: { width: page.width, height: page.height, channels: oriented.info.channels } })
      .resize(size.width, size.height, { fit: 'fill', kernel: 'linear' })
      .raw()
      .toBuffer();
  } catch (error) {
    throw new InferqError('IMAGE_INVALID', `the image could not be decoded: ${(error as Error).message}`);
  }
  const data = normalisedChw(pixels, size.width, size.height, size.width, spec);
  return { tensor: { type: 'float32', dims: [1, 3, size.height, size.width], data }, notes: page };
}

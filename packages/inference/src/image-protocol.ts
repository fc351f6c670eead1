import type { ErrorCode } from '@inferq/core/errors';
import type { ImageLimits, PreprocessedImage } from './image-preprocess.ts';
import type { ImagePreprocess, PagePreprocess } from './manifest.ts';
import type { PreprocessedPage } from './page-preprocess.ts';

/** One image for an image thread: its bytes (base64, as queued, or raw) and how to prepare them. */
export interface ImageRequest {
  id: number;
  image: string | Uint8Array;
  spec: ImagePreprocess | PagePreprocess;
  limits: ImageLimits;
}

/** The prepared tensor (its buffer transferred), or why the image was refused. */
export type ImageReply =
  | { id: number; image: PreprocessedImage | PreprocessedPage; failure?: undefined }
  | { id: number; image?: undefined; failure: { code?: ErrorCode; message: string; details?: Record<string, unknown> | undefined } };

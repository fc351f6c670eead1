import { parentPort } from 'node:worker_threads';
import { InferqError } from '@inferq/core/errors';
import { preprocessImage } from './image-preprocess.ts';
import type { ImageReply, ImageRequest } from './image-protocol.ts';
import { preprocessPage } from './page-preprocess.ts';

// Decoding, resizing and normalising an image line (or a page): all of it here, none on the worker's event loop.
const port = parentPort;
if (!port) throw new Error('image-thread must run as a worker thread');

port.on('message', (request: ImageRequest) => {
  const bytes = typeof request.image === 'string' ? Buffer.from(request.image, 'base64') : request.image;
  const spec = request.spec;
  (spec.kind === 'page' ? preprocessPage(bytes, spec, request.limits) : preprocessImage(bytes, spec, request.limits)).then(
    (image) => port.postMessage({ id: request.id, image } satisfies ImageReply, [image.tensor.data.buffer as ArrayBuffer]),
    (error: Error) => {
      const failure = error instanceof InferqError ? { code: error.code, message: error.message, details: error.details } : { message: error.message };
      port.postMessage({ id: request.id, failure } satisfies ImageReply);
    },
  );
});

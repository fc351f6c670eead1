import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { extname } from 'node:path';
import type { RequestBody } from './http-transport.ts';

/**
 * Rows to upload: a file path (or `file:` URL), or a stream of bytes or text (a web
 * `ReadableStream`, a Node `Readable`, any async or sync iterable, e.g. a generator of lines).
 * A path can be read again, so its upload may be retried; a stream cannot.
 */
export type UploadSource = string | URL | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>;

type Chunks = AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>;

export type UploadFormat = 'ndjson' | 'csv';

export interface UploadProgress {
  /** Bytes handed to the connection so far. */
  bytesSent: number;
  /** The file's size; undefined for a stream. */
  totalBytes: number | undefined;
}

const CONTENT_TYPES: Record<UploadFormat, string> = { ndjson: 'application/x-ndjson', csv: 'text/csv' };

/** `.csv` files are CSV; anything else (`.ndjson`, `.jsonl`, a stream) is NDJSON unless told. */
export function uploadFormat(source: UploadSource, format: UploadFormat | undefined): UploadFormat {
  if (format) return format;
  const path = typeof source === 'string' ? source : source instanceof URL ? source.pathname : '';
  return extname(path).toLowerCase() === '.csv' ? 'csv' : 'ndjson';
}

/** A byte stream that reports each chunk as it is pulled onto the connection. */
function countingStream(source: Chunks, onBytes: (bytes: number) => void): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let iterator: AsyncIterator<Uint8Array | string> | Iterator<Uint8Array | string> | undefined;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      iterator ??= Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : source[Symbol.iterator]();
      const next = await iterator.next();
      if (next.done) {
        controller.close();
        return;
      }
      const bytes = typeof next.value === 'string' ? encoder.encode(next.value) : next.value;
      onBytes(bytes.byteLength);
      controller.enqueue(bytes);
    },
    async cancel(reason) {
      await iterator?.return?.(reason);
    },
  });
}

/** The request body for an upload, streamed (never read whole), with progress reports. */
export async function uploadBody(source: UploadSource, format: UploadFormat, onProgress?: (progress: UploadProgress) => void): Promise<RequestBody> {
  const isPath = typeof source === 'string' || source instanceof URL;
  const totalBytes = isPath ? (await stat(source)).size : undefined;
  let used = false;
  return {
    contentType: CONTENT_TYPES[format],
    replayable: isPath,
    create() {
      if (used && !isPath) throw new Error('a stream can be uploaded only once');
      used = true;
      let bytesSent = 0;
      const bytes: Chunks = isPath ? createReadStream(source) : source;
      return countingStream(bytes, (n) => {
        bytesSent += n;
        onProgress?.({ bytesSent, totalBytes });
      });
    },
  };
}

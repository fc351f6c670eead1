import { createWriteStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { BatchResultLine } from '@inferq/client/api-types';
import { InferqValidationError } from '@inferq/client/client-errors';
import type { InferqClient } from '@inferq/client';
import type { FailedLine, WrittenResults } from './result-writer.ts';

/** Files scored as images (one job each) rather than as rows. */
export const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg', '.webp']);

/** The images to score: the folder's image files (sorted by name), or the one image named; undefined for a file of rows. */
export async function imageInputs(input: string): Promise<string[] | undefined> {
  if ((await stat(input)).isDirectory()) {
    const names = (await readdir(input)).filter((n) => IMAGE_EXTENSIONS.has(path.extname(n).toLowerCase())).sort();
    return names.map((n) => path.join(input, n));
  }
  return IMAGE_EXTENSIONS.has(path.extname(input).toLowerCase()) ? [input] : undefined;
}

export interface ImageJobsOptions {
  model: string;
  version?: string;
  ttlSeconds?: number;
  /** Jobs in flight at once. */
  concurrency: number;
  timeoutMs?: number;
  onDone?: (done: number, total: number) => void;
}

/**
 * Scores image files (pages for a pipeline such as document-ocr, or lines for an image model) as
 * one job each, a few in flight at once, and writes one line per image in input order, shaped
 * like a batch's result lines: `{row, id: <file name>, result}` or `{row, id, error}`. An image
 * the API refuses (too large, unreadable) or that fails gets an error line; the others go on.
 */
export async function scoreImages(client: InferqClient, files: string[], options: ImageJobsOptions, output: string | undefined): Promise<WrittenResults & { succeeded: number }> {
  const lines: BatchResultLine[] = new Array(files.length);
  let next = 0;
  let done = 0;
  const work = async () => {
    for (let row = next++; row < files.length; row = next++) {
      const file = files[row] as string;
      const id = path.basename(file);
      try {
        const job = await client.run(
          { model: options.model, ...(options.version ? { version: options.version } : {}), ...(options.ttlSeconds ? { ttl_seconds: options.ttlSeconds } : {}), image: { data: (await readFile(file)).toString('base64') } },
          options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs },
        );
        lines[row] = job.status === 'succeeded' ? { row, id, result: job.result } : { row, id, error: job.error ?? { code: job.status.toUpperCase(), message: `the job was ${job.status}` } };
      } catch (error) {
        if (!(error instanceof InferqValidationError)) throw error;
        lines[row] = { row, id, error: { code: error.code, message: error.message } };
      }
      options.onDone?.(++done, files.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency, files.length) }, work));
  const failed = lines.filter((l): l is FailedLine => 'error' in l);
  const text = lines.map((l) => `${JSON.stringify(l)}\n`).join('');
  if (output) await pipeline(Readable.from([text]), createWriteStream(output));
  else process.stdout.write(text);
  return { lines: lines.length, failed: failed.length, firstFailed: failed.slice(0, 5), succeeded: lines.length - failed.length };
}

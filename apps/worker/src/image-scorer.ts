import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { BATCH_CHUNK_PRIORITY } from '@inferq/batch/batch-submitter';
import { InferqError, type ErrorBody } from '@inferq/core/errors';
import { probeImage } from '@inferq/inference/image-preprocess';
import type { RecordWaiter } from './record-waiter.ts';
import type { RequestSubmitter } from './request-submitter.ts';

/** Images read, queued and awaited together: bounds the memory a folder of pages takes. */
const ROUND = 32;

export interface ImageScoringOptions {
  model: string;
  version: string;
  tenant: string;
  ttlMs: number;
  /** The model's max_batch_size: requests per bundle. */
  maxPerBundle: number;
  /** Longest a round of images may take. */
  timeoutMs: number;
}

/**
 * Scores image files (a schedule's folder of pages) as one request each on the model's (or
 * pipeline's) own queue, behind single jobs like batch chunks, and gives one result line per
 * image in input order, shaped like a batch's: `{row, id: <file name>, result}` or `{row, id,
 * error}`. An image over the pixel limit, or unreadable, gets an error line and is not queued.
 */
export class ImageScorer {
  constructor(
    private readonly submitter: RequestSubmitter,
    private readonly waiter: () => Promise<RecordWaiter>,
    private readonly maxPixels: number,
  ) {}

  async *lines(files: readonly string[], options: ImageScoringOptions): AsyncGenerator<string> {
    const waiter = await this.waiter();
    for (let first = 0; first < files.length; first += ROUND) {
      const round = files.slice(first, first + ROUND);
      const checked: ({ image: string } | { error: ErrorBody })[] = await Promise.all(
        round.map(async (file) => {
          try {
            const bytes = await readFile(file);
            await probeImage(bytes, { maxPixels: this.maxPixels });
            return { image: bytes.toString('base64') };
          } catch (error) {
            return { error: (error instanceof InferqError ? error : new InferqError('IMAGE_INVALID', (error as Error).message)).toBody() };
          }
        }),
      );
      const images = checked.flatMap((c) => ('error' in c ? [] : [c.image]));
      const prepared = this.submitter.prepare(images, { ...options, priority: BATCH_CHUNK_PRIORITY });
      const expected = await waiter.expect(prepared.ids);
      try {
        await prepared.send();
      } catch (error) {
        await expected.done(0);
        throw error;
      }
      const records = await expected.done(options.timeoutMs);
      let next = 0;
      let block = '';
      checked.forEach((c, i) => {
        const line: Record<string, unknown> = { row: first + i, id: path.basename(round[i] as string) };
        if ('error' in c) line.error = c.error;
        else {
          const record = records[next++];
          if (record?.status === 'succeeded') line.result = record.result;
          else line.error = record?.error ?? { code: 'INTERNAL', message: record ? `the request was ${record.status}` : `no answer within ${options.timeoutMs} ms` };
        }
        block += `${JSON.stringify(line)}\n`;
      });
      yield block;
    }
  }
}

import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { BatchResultLine } from '@inferq/client/api-types';
import type { BatchesApi } from '@inferq/client/batches-api';

export type FailedLine = Extract<BatchResultLine, { error: unknown }>;

export interface WrittenResults {
  lines: number;
  /** Error lines other than CANCELED. */
  failed: number;
  /** The first few failed lines, for the summary. */
  firstFailed: FailedLine[];
}

/** Lines are written in blocks of about this many characters, not one write each. */
const BLOCK_CHARS = 64 * 1024;

/**
 * Writes a batch's result lines to `output` (a file, or stdout when undefined), in input order,
 * noting the failed ones on the way so the summary can name them.
 */
export async function writeResults(batches: BatchesApi, batchId: string, output: string | undefined, keepFailed = 5): Promise<WrittenResults> {
  const written: WrittenResults = { lines: 0, failed: 0, firstFailed: [] };
  async function* blocks(): AsyncGenerator<string> {
    let block = '';
    for await (const line of batches.results(batchId)) {
      written.lines++;
      // Canceled rows are counted by the batch itself; a failure is a row that was tried.
      if ('error' in line && line.error.code !== 'CANCELED') {
        written.failed++;
        if (written.firstFailed.length < keepFailed) written.firstFailed.push(line);
      }
      block += `${JSON.stringify(line)}\n`;
      if (block.length >= BLOCK_CHARS) {
        yield block;
        block = '';
      }
    }
    if (block) yield block;
  }
  const source = Readable.from(blocks());
  if (output) await pipeline(source, createWriteStream(output));
  else await pipeline(source, process.stdout, { end: false });
  return written;
}

import { StringDecoder } from 'node:string_decoder';
import { InferqError } from '@inferq/core/errors';

/** One input row: the parsed object, or why it could not be parsed (it still gets a result line). */
export type SourceRow = { value: Record<string, unknown> } | { error: InferqError };

/**
 * Rows as a source yields them: a block per piece of input read (64 KiB of a file, a network
 * chunk), in order. One await per block, not per row: at a million rows, a promise per row
 * through two generators cost the ingest more than parsing them.
 */
export type RowBlocks = AsyncIterable<SourceRow[]>;

/**
 * Splits a byte stream into lines, a block of whole lines per chunk read, without holding more
 * than one partial line in memory.
 */
export async function* lineBlocks(source: AsyncIterable<Uint8Array | string>): AsyncGenerator<string[]> {
  // Not TextDecoder: its streaming decode was 7x slower on ASCII (measured on 64 KiB chunks).
  const decoder = new StringDecoder('utf8');
  let carry = '';
  for await (const chunk of source) {
    carry += typeof chunk === 'string' ? chunk : decoder.write(chunk);
    const block: string[] = [];
    let start = 0;
    for (let newline = carry.indexOf('\n'); newline !== -1; newline = carry.indexOf('\n', start)) {
      block.push(carry.slice(start, newline));
      start = newline + 1;
    }
    carry = carry.slice(start);
    if (block.length > 0) yield block;
  }
  carry += decoder.end();
  if (carry.length > 0) yield [carry];
}

function ndjsonRow(line: string): SourceRow {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    return { error: new InferqError('MALFORMED_JSON', `the line is not valid JSON: ${(error as Error).message}`) };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { error: new InferqError('INVALID_REQUEST', 'each line must be a JSON object such as {"features": {...}}') };
  }
  return { value: value as Record<string, unknown> };
}

/** NDJSON: one JSON object per line (`{"features": {...}}`, `{"inputs": [...]}`, optional `id`); blank lines are skipped. */
export async function* ndjsonRows(source: AsyncIterable<Uint8Array | string>): AsyncGenerator<SourceRow[]> {
  for await (const block of lineBlocks(source)) {
    const rows: SourceRow[] = [];
    for (const raw of block) {
      const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
      if (line.trim() === '') continue;
      rows.push(ndjsonRow(line));
    }
    if (rows.length > 0) yield rows;
  }
}

/** In-memory rows (a JSON body's `rows`) as blocks. */
export async function* arrayRows(values: Record<string, unknown>[], blockSize = 1024): AsyncGenerator<SourceRow[]> {
  for (let i = 0; i < values.length; i += blockSize) yield values.slice(i, i + blockSize).map((value) => ({ value }));
}

/** Splits one CSV record (RFC 4180 quoting, on a single line). */
export function splitCsvLine(line: string): string[] {
  const cells: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i] as string;
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') {
        quoted = false;
      } else {
        cell += ch;
      }
    } else if (ch === '"') {
      quoted = true;
    } else if (ch === ',') {
      cells.push(cell);
      cell = '';
    } else {
      cell += ch;
    }
  }
  cells.push(cell);
  return cells;
}

/**
 * CSV for tabular models: the header row names the features (and optionally an `id` column);
 * each later row becomes `{features: {...}, id?}`. Values are numbers, or true/false.
 */
export async function* csvRows(source: AsyncIterable<Uint8Array | string>): AsyncGenerator<SourceRow[]> {
  let header: string[] | undefined;
  for await (const block of lineBlocks(source)) {
    const rows: SourceRow[] = [];
    for (const raw of block) {
      const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
      if (line.trim() === '') continue;
      const cells = splitCsvLine(line);
      if (!header) {
        header = cells.map((c) => c.trim());
        continue;
      }
      if (cells.length !== header.length) {
        rows.push({ error: new InferqError('INVALID_REQUEST', `the row has ${cells.length} values, the header has ${header.length}`) });
        continue;
      }
      const features: Record<string, unknown> = {};
      let id: string | undefined;
      header.forEach((name, i) => {
        const text = (cells[i] as string).trim();
        if (name === 'id') id = text;
        else features[name] = text === 'true' ? true : text === 'false' ? false : text === '' ? null : Number(text);
      });
      rows.push({ value: id === undefined ? { features } : { id, features } });
    }
    if (rows.length > 0) yield rows;
  }
}
